<?php
/**
 * @license GPL-2.0-or-later
 */

use MediaWiki\Extension\RcEmit\PayloadBuilder;

/**
 * Golden-data recorder for scripts/regen-goldens.sh (never loaded by the extension).
 *
 * Configured first in $wgRCFeeds, so for every change it runs before core's feeds: it builds rcemit's
 * payload with every optional part (PayloadBuilder::PART_ALL, so that one payload serves every feed, the
 * all-properties xmlrc feed included), appends it (base64) with rc_id to the JSON-lines file `out`, then sends
 * "RCEMIT-MARK <rc_id>" to every port in `mark_ports`, so the listener can attribute the core datagrams that
 * follow on each port to this change. It also notes whether building the payload with the parts of the
 * default configuration (xmlrc's default properties) ran a database query (Database::lastQuery() changed) and
 * how long that took (first and second call), for the report; sha1 and parsedcomment may query.
 */
class RcEmitGoldenRecorderFeed extends RCFeed {
	/** @var array */
	private $params;

	public function __construct( array $params ) {
		$this->params = $params;
	}

	public function notify( RecentChange $rc, $actionComment = null ) {
		$db = wfGetDB( DB_PRIMARY );
		$before = $db->lastQuery();
		$defaultParts = PayloadBuilder::PART_API_PARAMS | PayloadBuilder::PART_REDIRECT;
		$start = hrtime( true );
		PayloadBuilder::build( $rc, $actionComment, $defaultParts );
		$micros = ( hrtime( true ) - $start ) / 1000;
		$queried = $db->lastQuery() !== $before;
		// Again, now that the classes are loaded and compiled: the steady-state cost.
		$start = hrtime( true );
		PayloadBuilder::build( $rc, $actionComment, $defaultParts );
		$warmMicros = ( hrtime( true ) - $start ) / 1000;
		// Every part but MediaWiki's own URLs, which the library computes unless a hook may change them.
		$payload = PayloadBuilder::build( $rc, $actionComment,
			PayloadBuilder::PART_ALL & ~( PayloadBuilder::PART_NOTIFY_URL | PayloadBuilder::PART_TITLE_URL ) );
		$failures = array_map( static function ( Throwable $e ) {
			return get_class( $e ) . ': ' . $e->getMessage();
		}, PayloadBuilder::takeFailures() );
		$rcId = (int)$rc->getAttribute( 'rc_id' );
		$record = [
			'rc_id' => $rcId,
			'payload' => base64_encode( $payload ),
			'build_us' => $micros,
			'build_warm_us' => $warmMicros,
			'queried' => $queried,
			'attribs' => array_map(
				static function ( $v ) {
					return is_scalar( $v ) || $v === null ? $v : get_debug_type( $v );
				},
				$rc->getAttributes()
			),
			'action_comment' => $actionComment,
			'part_failures' => $failures,
		];
		file_put_contents( $this->params['out'],
			json_encode( $record, JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES ) . "\n", FILE_APPEND | LOCK_EX );
		$sock = socket_create( AF_INET, SOCK_DGRAM, SOL_UDP );
		foreach ( $this->params['mark_ports'] as $port ) {
			socket_sendto( $sock, "RCEMIT-MARK $rcId", strlen( "RCEMIT-MARK $rcId" ), 0, '127.0.0.1', $port );
		}
		socket_close( $sock );
		return true;
	}
}
