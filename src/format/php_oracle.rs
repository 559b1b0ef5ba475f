//! Runs MediaWiki's own code (Debian's `mediawiki` package, PHP CLI) from unit tests, so expected outputs come
//! from the real oracle at test time. When PHP or MediaWiki is missing the tests say so and skip the oracle
//! comparison (the property checks still run).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

use super::rc_packet::{self, Field};
use crate::context::FeedContext;
use crate::event::Event;

const MEDIAWIKI: &str = "/usr/share/mediawiki";

/// Reads requests from stdin, one per line: a mode letter, a space, JSON. Answers each with its byte length,
/// a newline and the bytes; a PHP exception (core itself fails on that input) answers `-1`.
const SCRIPT: &str = r#"
ini_set( 'display_errors', 'stderr' );
define( 'MEDIAWIKI', true );
$IP = getenv( 'MW_IP' );
require_once "$IP/includes/AutoLoader.php";
require_once "$IP/vendor/autoload.php";
// The transformations ApiFormatXml::execute() (MediaWiki 1.39) applies before printing.
$xmlTransforms = [
    'Custom' => static function ( &$data, &$metadata ) {
        if ( ( $metadata[ApiResult::META_TYPE] ?? null ) === 'BCassoc' ) {
            $metadata[ApiResult::META_TYPE] = 'assoc';
        }
    },
    'BC' => [ 'nobool', 'no*', 'nosub' ],
    'Types' => [ 'ArmorKVP' => '_name' ],
];
while ( ( $line = fgets( STDIN ) ) !== false ) {
    $data = json_decode( substr( $line, 2 ), true );
    try {
        switch ( $line[0] ) {
            case 'C': $out = json_encode( $data, JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION ); break;
            case 'J': $out = FormatJson::encode( $data ); break;
            case 'X': $out = ApiFormatXml::recXmlPrint( 'recentchange', $data, 0 ); break;
            case 'F': $out = (string)(float)$data; break;
            case 'D': $out = Sanitizer::decodeCharReferences( $data ); break;
            case 'I': $out = IRCColourfulRCFeedFormatter::cleanupForIRC( $data ); break;
            case 'U': $out = serialize( $data ); break;
            case 'S':
                date_default_timezone_set( 'UTC' );
                $out = var_export( strtotime( $data[0], $data[1] ), true );
                break;
            case 'L':
                $result = new ApiResult( false );
                $result->addValue( null, 'logparams', $data, ApiResult::NO_VALIDATE );
                $data = $result->getResultData( [ 'logparams' ], $xmlTransforms );
                $out = ApiFormatXml::recXmlPrint( 'logparams', $data, null );
                break;
        }
        echo strlen( $out ), "\n", $out;
    } catch ( Throwable $e ) {
        echo "-1\n";
    }
}
"#;

/// What to ask PHP.
#[derive(Clone, Copy)]
pub enum Mode {
    /// `json_encode( json_decode( $x, true ) )` with `JSON_PRESERVE_ZERO_FRACTION`: how the PHP side should
    /// encode this value for the payload, so that floats stay floats (`10.0`, `-0.0`) when read back.
    Canonical,
    /// `FormatJson::encode( $packet )`.
    Json,
    /// `ApiFormatXml::recXmlPrint( 'recentchange', $packet, 0 )`.
    Xml,
    /// `(string)(float)$literal`.
    FloatString,
    /// `Sanitizer::decodeCharReferences( $text )`.
    DecodeCharReferences,
    /// `IRCColourfulRCFeedFormatter::cleanupForIRC( $text )`.
    CleanupForIrc,
    /// api.php's XML printing of a `formatParametersForApi()` result as `<logparams>`.
    LogParamsXml,
    /// `strtotime( $duration, $now )` in UTC, for `[ duration, now ]`: the Unix time or `false`.
    Strtotime,
    /// `serialize( $value )`.
    Serialize,
}

/// Runs each request through PHP in one process; `None` where core throws for that input. Panics when PHP or
/// MediaWiki is missing: a comparison with an oracle that is not there must not pass (`make test` installs
/// both first).
pub fn run(mode: Mode, inputs: &[Value]) -> Vec<Option<Vec<u8>>> {
    assert!(
        Path::new(MEDIAWIKI).join("includes/AutoLoader.php").exists(),
        "php_oracle: MediaWiki is not installed at {MEDIAWIKI}; run scripts/install-deps.sh (make deps) first"
    );
    let letter = match mode {
        Mode::Canonical => 'C',
        Mode::Json => 'J',
        Mode::Xml => 'X',
        Mode::FloatString => 'F',
        Mode::DecodeCharReferences => 'D',
        Mode::CleanupForIrc => 'I',
        Mode::LogParamsXml => 'L',
        Mode::Strtotime => 'S',
        Mode::Serialize => 'U',
    };
    let mut child = Command::new("php")
        .args(["-d", "memory_limit=1G", "-r", SCRIPT])
        .env("MW_IP", MEDIAWIKI)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("php_oracle: cannot run php ({e}); run scripts/install-deps.sh first")
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let requests: String = inputs.iter().map(|v| format!("{letter} {v}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
    let output = child.wait_with_output().expect("php runs");
    writer
        .join()
        .expect("writer thread")
        .expect("php reads its input");
    assert!(
        output.status.success(),
        "php oracle failed: {}",
        output.status
    );

    let mut rest = &output.stdout[..];
    let mut answers = Vec::with_capacity(inputs.len());
    while !rest.is_empty() {
        let newline = rest.iter().position(|&b| b == b'\n').expect("length line");
        let len: i64 = std::str::from_utf8(&rest[..newline])
            .unwrap()
            .parse()
            .unwrap();
        rest = &rest[newline + 1..];
        if len < 0 {
            answers.push(None);
        } else {
            let (answer, tail) = rest.split_at(len as usize);
            answers.push(Some(answer.to_vec()));
            rest = tail;
        }
    }
    assert_eq!(answers.len(), inputs.len(), "one answer per request");
    answers
}

/// The packet core would build, as JSON that `json_decode( ..., true )` turns back into the same PHP array.
fn packet_json(event: &Event, ctx: &FeedContext) -> Value {
    let mut map = Map::new();
    for (key, field) in rc_packet::build(event, ctx) {
        let value = match field {
            Field::Null => Value::Null,
            Field::Int(n) => Value::from(n),
            Field::Str(s) => Value::from(s),
            Field::String(s) => Value::from(s.into_owned()),
            Field::Bool(b) => Value::from(b),
            Field::OldNew(old, new) => serde_json::json!({ "old": old, "new": new }),
            Field::Json(v) => v.clone(),
        };
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// A change and the feed it is formatted for.
pub type Case = (Event, FeedContext);

/// Core's feed packet (`Mode::Json` or `Mode::Xml`) for each case, paired with the case as compared: its log
/// params replaced by what the PHP side would put into the payload for them (PHP's `json_encode` of the array
/// `json_decode` makes of them), cases PHP cannot encode dropped. `None` where core throws; panics when PHP or
/// MediaWiki is missing.
pub fn feed_packets(mode: Mode, cases: Vec<Case>) -> Vec<(Case, Option<Vec<u8>>)> {
    let params: Vec<Value> = cases
        .iter()
        .map(|(e, _)| {
            e.log
                .as_ref()
                .and_then(|l| l.params_raw.clone())
                .unwrap_or(Value::Null)
        })
        .collect();
    let canonical = run(Mode::Canonical, &params);
    let cases: Vec<Case> = cases
        .into_iter()
        .zip(canonical)
        .filter_map(|((mut event, ctx), params)| {
            if let Some(log) = &mut event.log {
                if log.params_raw.is_some() {
                    let json = serde_json::from_slice(&params?).expect("PHP wrote JSON");
                    log.params_raw = Some(json);
                }
            }
            Some((event, ctx))
        })
        .collect();
    let packets: Vec<Value> = cases.iter().map(|(e, c)| packet_json(e, c)).collect();
    let outputs = run(mode, &packets);
    cases.into_iter().zip(outputs).collect()
}

/// PHP's `(string)(float)$literal` for each literal; panics when PHP or MediaWiki is missing.
pub fn float_strings(literals: &[String]) -> Vec<String> {
    strings(Mode::FloatString, literals)
}

/// `Sanitizer::decodeCharReferences()` for each input; panics when PHP or MediaWiki is missing.
pub fn decode_char_references(inputs: &[String]) -> Vec<String> {
    strings(Mode::DecodeCharReferences, inputs)
}

/// `IRCColourfulRCFeedFormatter::cleanupForIRC()` for each input; panics when PHP or MediaWiki is missing.
pub fn cleanup_for_irc(inputs: &[String]) -> Vec<String> {
    strings(Mode::CleanupForIrc, inputs)
}

/// The `<logparams>` element api.php prints for each `formatParametersForApi()` value (as PHP json_encodes
/// it), `None` where api.php fails on the value; panics when PHP or MediaWiki is missing.
pub fn logparams_xml(params: &[Value]) -> Vec<Option<String>> {
    run(Mode::LogParamsXml, params)
        .into_iter()
        .map(|answer| answer.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
        .collect()
}

fn strings(mode: Mode, inputs: &[String]) -> Vec<String> {
    let values: Vec<Value> = inputs.iter().map(|s| Value::from(s.as_str())).collect();
    run(mode, &values)
        .into_iter()
        .map(|answer| String::from_utf8(answer.expect("PHP does not throw here")).expect("UTF-8"))
        .collect()
}
