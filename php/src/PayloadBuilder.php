<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use CommentStoreComment;
use Language;
use LinkCache;
use MediaWiki\CommentFormatter\CommentFormatter;
use MediaWiki\CommentFormatter\CommentItem;
use MediaWiki\CommentFormatter\CommentParser;
use MediaWiki\CommentFormatter\CommentParserFactory;
use MediaWiki\MediaWikiServices;
use RecentChange;
use Title;
use TitleValue;
use Throwable;
use WikiPage;

// Global functions of the per-change path, bound when compiled: strlen() and is_string() become opcodes, the
// others direct calls, instead of a namespace lookup at run time.
use function count;
use function ctype_digit;
use function date_default_timezone_get;
use function is_string;
use function pack;
use function preg_match;
use function rtrim;
use function str_ends_with;
use function strlen;
use function strpos;
use function strspn;
use function strtr;
use function substr;

/**
 * Turns a RecentChange into rcemit's payload v3 (layout: docs/payload.md in the rcemit repository).
 *
 * Runs inside the save request, so the edit path is one pack() call over attributes RecentChange::save() has
 * already set: no JSON, no database query, no message formatting. Where each field comes from (MW 1.39):
 * - ints: rc_id (set by save() after the insert), rc_type, rc_namespace, rc_cur_id, rc_this_oldid,
 *   rc_last_oldid, rc_user (0 for IP users: the API's `anon`), rc_old_len/rc_new_len (NULL flagged, as save()
 *   normalises them to int|null), rc_logid, rc_patrolled.
 * - timestamp: rc_timestamp, which callers set as TS_MW (converted only if it is not).
 * - title: $rc->getTitle()->getPrefixedText(), as core's packets and the API print it.
 * - user: rc_user_text; comment: rc_comment as given to the RecentChange (core's json/xml packets use it).
 * - tags: given by the caller (the TagCache, filled by TagCapture during save(); no query).
 * - log rows only: rc_log_type, rc_log_action, the IRC action comment given to notify(), the params as
 *   stored (rc_params unserialised, keys kept; see logParams()).
 * Parts only the xmlrc format prints, computed only when a feed's properties ask for them (PART_*):
 * - redirect (page_is_redirect after the change, the API's `redirect`): see isRedirect();
 * - log rows: the API's `logparams`, which the library derives from the stored params for core's log types
 *   (see apiKind(); a move's or merge's title namespace comes from here); for others
 *   LogFormatter::formatParametersForApi() here;
 * - sha1 (one indexed query) and parsedcomment (the comment parser, which may query link targets): see
 *   sha1() and parsedComment().
 * MediaWiki's own URLs, only where a hook handler may change what the library would compute (PART_*_URL):
 * - notify_url: the change's URL after the IRCLineURL hook (irc lines; json/xml packets since 1.41);
 * - title_url: Title::getCanonicalURL() after the URL hooks (json/xml packets since 1.41).
 * The JSON fields are json_encode'd with JSON_INVALID_UTF8_SUBSTITUTE.
 *
 * An optional part that fails (MediaWiki throws) is left out, the payload says so (the library counts it in
 * `part_failures`) and the failure is kept for the caller to log: see takeFailures().
 */
class PayloadBuilder {
	/** The API's log params (`loginfo`; only log rows have them) */
	public const PART_API_PARAMS = 1;
	/** The redirect flag (`redirect`) */
	public const PART_REDIRECT = 2;
	/** The revision's SHA-1 (`sha1`) */
	public const PART_SHA1 = 4;
	/** The comment as HTML (`parsedcomment`) */
	public const PART_PARSED_COMMENT = 8;
	/** MediaWiki's URL of the change, when an IRCLineURL hook handler may change it (`notify_url`) */
	public const PART_NOTIFY_URL = 16;
	/** MediaWiki's canonical URL of the page, when a URL hook handler may change it (`title_url`) */
	public const PART_TITLE_URL = 32;
	/** Everything a payload can carry */
	public const PART_ALL = 63;
	/** The names of the parts that can fail, for log lines */
	private const PART_NAMES = [
		self::PART_API_PARAMS => 'log params (loginfo)',
		self::PART_REDIRECT => 'redirect flag',
		self::PART_SHA1 => 'sha1',
		self::PART_PARSED_COMMENT => 'parsedcomment',
		self::PART_NOTIFY_URL => 'notify_url',
		self::PART_TITLE_URL => 'title_url',
	];

	/**
	 * The log types whose API params the library derives (src/format/api_log_params.rs), with the formatter
	 * core registers for each in $wgLogActionsHandlers (the same on 1.39 and 1.43).
	 */
	private const LIBRARY_LOG_FORMATTERS = [
		'managetags/create' => 'LogFormatter',
		'managetags/delete' => 'LogFormatter',
		'managetags/activate' => 'LogFormatter',
		'managetags/deactivate' => 'LogFormatter',
		'contentmodel/change' => 'ContentModelLogFormatter',
		'contentmodel/new' => 'ContentModelLogFormatter',
		'newusers/newusers' => 'NewUsersLogFormatter',
		'newusers/create' => 'NewUsersLogFormatter',
		'newusers/create2' => 'NewUsersLogFormatter',
		'newusers/byemail' => 'NewUsersLogFormatter',
		'newusers/autocreate' => 'NewUsersLogFormatter',
		'protect/protect' => 'ProtectLogFormatter',
		'protect/modify' => 'ProtectLogFormatter',
		'protect/unprotect' => 'ProtectLogFormatter',
		'delete/delete' => 'DeleteLogFormatter',
		'delete/delete_redir' => 'DeleteLogFormatter',
		'delete/delete_redir2' => 'DeleteLogFormatter',
		'delete/restore' => 'DeleteLogFormatter',
		'delete/revision' => 'DeleteLogFormatter',
		'delete/event' => 'DeleteLogFormatter',
		'suppress/delete' => 'DeleteLogFormatter',
		'suppress/revision' => 'DeleteLogFormatter',
		'suppress/event' => 'DeleteLogFormatter',
		'upload/upload' => 'UploadLogFormatter',
		'upload/overwrite' => 'UploadLogFormatter',
		'upload/revert' => 'UploadLogFormatter',
		'rights/rights' => 'RightsLogFormatter',
		'rights/autopromote' => 'RightsLogFormatter',
		'patrol/patrol' => 'PatrolLogFormatter',
		'patrol/autopatrol' => 'PatrolLogFormatter',
		'block/block' => 'BlockLogFormatter',
		'block/reblock' => 'BlockLogFormatter',
		'block/unblock' => 'BlockLogFormatter',
		'suppress/block' => 'BlockLogFormatter',
		'suppress/reblock' => 'BlockLogFormatter',
		'move/move' => 'MoveLogFormatter',
		'move/move_redir' => 'MoveLogFormatter',
		'merge/merge' => 'MergeLogFormatter',
	];
	/**
	 * The title param of the log types above that have one, by log type, and how serialize() starts its key
	 * (LIBRARY_SERIALIZABLE captures it): the library needs its namespace (see titleNamespace()).
	 */
	private const TITLE_PARAMS = [
		'move' => [ '4::target', 's:9:"4::target' ],
		'merge' => [ '4::dest', 's:7:"4::dest' ],
	];
	/** How serialize() starts the key of a block's duration */
	private const BLOCK_DURATION_KEY = 's:11:"5::duration';
	/**
	 * The usual block durations, and whether each is relative (read in UTC only): BlockUser stores every
	 * infinite one as `infinity`, the others as given, and these are the choices of the block form
	 * (MediaWiki's default `ipboptions`) and a few common others. One lookup instead of reading the duration
	 * (durationReadable()): side by side in the benchmark, 9-10 % of a block row (they are rare, so their code
	 * is cold).
	 */
	private const USUAL_BLOCK_DURATIONS = [
		'infinity' => false,
		'2 hours' => true,
		'1 day' => true,
		'3 days' => true,
		'1 week' => true,
		'2 weeks' => true,
		'1 month' => true,
		'3 months' => true,
		'6 months' => true,
		'1 year' => true,
		'1 hour' => true,
		'24 hours' => true,
		'31 hours' => true,
		'48 hours' => true,
		'72 hours' => true,
	];
	/** wfIsInfinity()'s words */
	private const INFINITY = [ 'infinite' => true, 'indefinite' => true, 'infinity' => true, 'never' => true ];
	/**
	 * The units of the relative block durations the library reads as strtotime() does (api_log_params.rs,
	 * parse_duration), as they follow `<number> ` in the usual spelling, singular and plural
	 */
	private const DURATION_UNITS = [
		'sec' => true, 'secs' => true, 'second' => true, 'seconds' => true, 'min' => true, 'mins' => true,
		'minute' => true, 'minutes' => true, 'hour' => true, 'hours' => true, 'day' => true, 'days' => true,
		'week' => true, 'weeks' => true, 'fortnight' => true, 'fortnights' => true, 'month' => true,
		'months' => true, 'year' => true, 'years' => true,
	];

	private const RC_EDIT = 0;
	private const RC_NEW = 1;
	private const RC_LOG = 3;
	private const RC_CATEGORIZE = 6;

	private const FLAG_BOT = 1;
	private const FLAG_MINOR = 2;
	private const FLAG_REDIRECT = 4;
	private const FLAG_OLD_LEN_NULL = 8;
	private const FLAG_NEW_LEN_NULL = 16;
	private const FLAG_HAS_SHA1 = 32;
	private const FLAG_HAS_PARSED_COMMENT = 64;
	private const FLAG_HAS_NOTIFY_URL = 128;
	private const FLAG_HAS_TITLE_URL = 256;
	private const FLAG_PART_FAILED = 512;
	private const FLAG_PARAMS_KEYED = 1024;
	private const FLAG_API_PARAMS_IN_LIBRARY = 2048;
	private const FLAG_PARAMS_SERIALIZED = 4096;
	/**
	 * Log params the library unserialises, as the one regular expression every log row runs (a rare log
	 * type's own expression, or the string functions reading its entry, are cold when its row comes: 1 to 2
	 * µs more, side by side in the benchmark): serialize() of an array with no tag the library does not
	 * unserialise (objects, references, enums, escaped strings) and no page restrictions (a block's, which are
	 * titles). As a plain search it also hits such text inside strings, which only costs the PHP path.
	 *
	 * It captures the first entry when it is one the library needs to see, as MovePage, MergeHistory and
	 * BlockUser store it first: how serialize() starts its key (1, TITLE_PARAMS or BLOCK_DURATION_KEY), its
	 * string value's length (2) and its text up to the first quote (3; a value with a quote is not read).
	 */
	private const LIBRARY_SERIALIZABLE = '/^a:\d+:\{(?!.*(?:[OCrRES]:|s:5:"pages";))' .
		'(?:(s:11:"5::duration|s:9:"4::target|s:7:"4::dest)";s:(\d+):"([^"]*)";)?/s';
	/** Byte offset of the low byte of `flags` (after the magic and eleven 64-bit integers) */
	private const FLAGS_OFFSET = 92;
	/**
	 * Where a payload says an optional part failed (FLAG_PART_FAILED, in the flags' second byte): callers test
	 * this bit before takeFailures(), a byte test instead of a call on every change
	 */
	public const PART_FAILED_BYTE = self::FLAGS_OFFSET + 1;
	public const PART_FAILED_BIT = self::FLAG_PART_FAILED >> 8;

	/**
	 * What the library does with a log row's API params (apiKind()): nothing, PHP formats them (a log type it
	 * does not reproduce, or whose formatter the wiki replaced)
	 */
	private const API_BY_PHP = 0;
	/** The library derives them from the params as stored */
	private const API_PLAIN = 1;
	/** The same, when the block's duration is one the library reads and there are no page restrictions */
	private const API_BLOCK = 2;
	/** The same, with the namespace of the title param (TITLE_PARAMS), which comes from here */
	private const API_TITLE = 3;
	/** Bound of the memos below: log types and namespace prefixes come from the wiki's code and config */
	private const MEMO_MAX = 64;

	/**
	 * @var MediaWikiServices|null The container the fields below come from, computed when first needed and
	 *  kept while it is the same (tests reset it): facts of the wiki's configuration, never of one change
	 */
	private static $from = null;
	/** @var LinkCache|null */
	private static $linkCache = null;
	/** @var Language|null The content language */
	private static $language = null;
	/** @var array|null $wgLogActionsHandlers */
	private static $logHandlers = null;
	/** @var array<string,array<string,int>> API_* by log type and action (apiKind()) */
	private static $apiKinds = [];
	/** @var array<string,int> Namespace by title prefix (titleNamespace()) */
	private static $namespaces = [];
	/**
	 * @var bool|null Whether PHP's time zone is UTC, in which strtotime() adds a relative block duration as the
	 *  library does: MediaWiki sets it once, in Setup.php, from $wgLocaltimezone
	 */
	private static $utc = null;
	/** @var array<string,Throwable> Failures of optional parts in the last build() or withRedirect(), by part */
	private static $failures = [];

	private const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE
		| JSON_PARTIAL_OUTPUT_ON_ERROR;

	/**
	 * @param MediaWikiServices $services The current container (RcEmitFeed has it at hand)
	 * @param RecentChange $rc The change, after RecentChange::save() inserted it
	 * @param string|null $actionComment The IRC action comment core passes to RCFeed::notify()
	 * @param string[] $tags The change's tags in the API's order (TagCache::get())
	 * @param int $parts PART_* bits: the optional parts to compute
	 * @param int|null &$complete Set to the PART_* bits the payload is complete for: $parts plus those that do
	 *  not apply to this change (the API's log params of a non-log row)
	 * @return string The payload bytes
	 */
	public static function build(
		MediaWikiServices $services, RecentChange $rc, $actionComment, array $tags, int $parts,
		?int &$complete = null
	): string {
		self::$failures = [];
		if ( $services !== self::$from ) {
			self::refresh( $services );
		}
		// Every read tolerates a missing key: a change published to feeds only (ManualLogEntry::publish( $id,
		// 'udp' ), e.g. the patrol log) never went through save() and has no rc_id.
		$a = $rc->getAttributes();
		$rcId = (int)( $a['rc_id'] ?? 0 );
		$type = (int)( $a['rc_type'] ?? 0 );
		// What the saving request handed RecentChange: the WikiPage it has just updated (PageUpdater, for edits
		// and page creations; its Title has its text computed already), or a Title. getTitle() would cast a
		// WikiPage to a new Title every time.
		$page = $rc->getPage();
		if ( $page instanceof WikiPage ) {
			$title = $page->getTitle();
		} elseif ( $page instanceof Title ) {
			$title = $page;
		} else {
			$title = $rc->getTitle();
		}
		$flags = ( ( $a['rc_bot'] ?? 0 ) ? self::FLAG_BOT : 0 )
			| ( ( $a['rc_minor'] ?? 0 ) ? self::FLAG_MINOR : 0 )
			| ( ( $a['rc_old_len'] ?? null ) === null ? self::FLAG_OLD_LEN_NULL : 0 )
			| ( ( $a['rc_new_len'] ?? null ) === null ? self::FLAG_NEW_LEN_NULL : 0 );
		if ( $parts & self::PART_REDIRECT ) {
			try {
				// An edit's saved WikiPage answers from memory, and a log row without a page is no redirect (see
				// isRedirect()): both read here directly, as they are most of the changes.
				if ( $page instanceof WikiPage && ( $type === self::RC_EDIT || $type === self::RC_NEW )
					? $title->mRedirect ?? $page->isRedirect()
					: ( $type !== self::RC_LOG || ( $a['rc_cur_id'] ?? 0 ) ) && self::isRedirect( $page, $title, $a )
				) {
					$flags |= self::FLAG_REDIRECT;
				}
			} catch ( Throwable $e ) {
				self::$failures[self::PART_NAMES[self::PART_REDIRECT]] = $e;
			}
		}

		$timestamp = (string)( $a['rc_timestamp'] ?? '' );
		if ( strlen( $timestamp ) !== 14 || !ctype_digit( $timestamp ) ) {
			$timestamp = (string)wfTimestamp( TS_MW, $timestamp );
		}
		$comment = $a['rc_comment'] ?? '';
		if ( $comment instanceof CommentStoreComment ) {
			$comment = $comment->text;
		}
		$comment = (string)$comment;
		$titleText = $title->getPrefixedText();
		$user = (string)( $a['rc_user_text'] ?? '' );

		$tagList = '';
		foreach ( $tags as $tag ) {
			$tagList .= pack( 'V', strlen( $tag ) ) . $tag;
		}

		$complete = $parts;
		if ( $type === self::RC_LOG ) {
			$logType = (string)( $a['rc_log_type'] ?? '' );
			$logAction = (string)( $a['rc_log_action'] ?? '' );
			$actionComment = (string)$actionComment;
			$paramsApi = '';
			$rcParams = $a['rc_params'] ?? '';
			$api = ( $parts & self::PART_API_PARAMS ) !== 0;
			$kind = $api ? self::$apiKinds[$logType][$logAction] ?? self::apiKind( $logType, $logAction )
				: self::API_BY_PHP;
			$stored = $titleNs = null;
			// An array of scalars and arrays goes as stored (LIBRARY_SERIALIZABLE): the library unserialises
			// it. A block whose API params the library derives goes so only when its duration can be seen in the
			// string, a move or merge only when its title can; otherwise they are read here for
			// storedReadable().
			if ( is_string( $rcParams ) && preg_match( self::LIBRARY_SERIALIZABLE, $rcParams, $first )
				&& ( $kind < self::API_BLOCK || ( $kind === self::API_BLOCK ? self::blockDurationReadable( $first )
					: ( $titleNs = self::serialisedTitleNamespace( $logType, $first ) ) !== null ) )
			) {
				$paramsRaw = $rcParams;
				$flags |= self::FLAG_PARAMS_SERIALIZED;
			} else {
				$paramsRaw = self::logParams( $rc, $stored );
				if ( $stored !== null ) {
					$flags |= self::FLAG_PARAMS_KEYED;
				}
			}
			if ( $api ) {
				if ( $kind !== self::API_BY_PHP
					&& ( $flags & ( self::FLAG_PARAMS_SERIALIZED | self::FLAG_PARAMS_KEYED ) )
					&& ( $stored === null || self::storedReadable( $kind, $logType, $stored, $titleNs ) )
				) {
					// The library needs a title param's namespace: as a decimal number in this field.
					if ( $kind === self::API_TITLE ) {
						$paramsApi = $titleNs;
					}
					$flags |= self::FLAG_API_PARAMS_IN_LIBRARY;
				} else {
					$paramsApi = self::apiLogParams( $a );
				}
			}
		} else {
			$logType = $logAction = $actionComment = $paramsRaw = $paramsApi = '';
			$complete |= self::PART_API_PARAMS;
		}

		$sha1 = $parsedComment = $notifyUrl = $titleUrl = '';
		if ( $parts & self::PART_SHA1 ) {
			$sha1 = self::optional( self::PART_SHA1, static function () use ( $a ) {
				return self::sha1( (int)( $a['rc_this_oldid'] ?? 0 ) );
			} );
			if ( $sha1 !== null ) {
				$flags |= self::FLAG_HAS_SHA1;
			}
		}
		if ( $parts & self::PART_PARSED_COMMENT ) {
			$parsedComment = self::optional( self::PART_PARSED_COMMENT, static function () use ( $comment, $a ) {
				return self::parsedComment( $comment, $a );
			} );
			if ( $parsedComment !== null ) {
				$flags |= self::FLAG_HAS_PARSED_COMMENT;
			}
		}
		if ( $parts & self::PART_NOTIFY_URL && $type !== self::RC_LOG ) {
			$notifyUrl = self::optional( self::PART_NOTIFY_URL, static function () use ( $rc ) {
				return self::notifyUrl( $rc );
			} );
			if ( $notifyUrl !== null ) {
				$flags |= self::FLAG_HAS_NOTIFY_URL;
			}
		}
		if ( $parts & self::PART_TITLE_URL ) {
			$titleUrl = self::optional( self::PART_TITLE_URL, static function () use ( $title ) {
				return $title->getCanonicalURL();
			} );
			if ( $titleUrl !== null ) {
				$flags |= self::FLAG_HAS_TITLE_URL;
			}
		}
		if ( self::$failures ) {
			$flags |= self::FLAG_PART_FAILED;
		}

		// pack() converts each integer argument exactly as an (int) cast does (zval_get_long), so the
		// attributes, numeric strings from a database row, go in as they are: a dozen opcodes fewer.
		return pack( 'a4P12Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*',
			"RCE\x03",
			$rcId, $type, $a['rc_namespace'] ?? 0, $a['rc_cur_id'] ?? 0,
			$a['rc_this_oldid'] ?? 0, $a['rc_last_oldid'] ?? 0, $a['rc_user'] ?? 0,
			$a['rc_old_len'] ?? 0, $a['rc_new_len'] ?? 0, $a['rc_logid'] ?? 0,
			$a['rc_patrolled'] ?? 0, $flags,
			strlen( $timestamp ), $timestamp,
			strlen( $titleText ), $titleText,
			strlen( $user ), $user,
			strlen( $comment ), $comment,
			strlen( $logType ), $logType,
			strlen( $logAction ), $logAction,
			strlen( $actionComment ), $actionComment,
			strlen( $paramsRaw ), $paramsRaw,
			strlen( $paramsApi ), $paramsApi,
			strlen( $tagList ), $tagList,
			strlen( (string)$sha1 ), (string)$sha1,
			strlen( (string)$parsedComment ), (string)$parsedComment,
			strlen( (string)$notifyUrl ), (string)$notifyUrl,
			strlen( (string)$titleUrl ), (string)$titleUrl
		);
	}

	/**
	 * The failures of optional parts in the last build() or withRedirect(), by part name; the caller logs them
	 * (once each).
	 *
	 * @return array<string,Throwable>
	 */
	public static function takeFailures(): array {
		$failures = self::$failures;
		self::$failures = [];
		return $failures;
	}

	/**
	 * Computes an optional part; a Throwable is kept for takeFailures() and the part left out.
	 *
	 * @param int $part PART_* bit
	 * @param callable $compute fn(): ?string
	 * @return string|null
	 */
	private static function optional( int $part, callable $compute ): ?string {
		try {
			return $compute();
		} catch ( Throwable $e ) {
			self::$failures[self::PART_NAMES[$part]] = $e;
			return null;
		}
	}

	/**
	 * MediaWiki's URL of a non-log change: RecentChange::getNotifyUrl() where it exists (1.41), else what
	 * 1.39's IRCColourfulRCFeedFormatter::getLine() computes; both run the IRCLineURL hook.
	 */
	private static function notifyUrl( RecentChange $rc ): string {
		if ( method_exists( $rc, 'getNotifyUrl' ) ) {
			return (string)$rc->getNotifyUrl();
		}
		$services = MediaWikiServices::getInstance();
		$config = $services->getMainConfig();
		$type = (int)$rc->getAttribute( 'rc_type' );
		$url = $config->get( 'CanonicalServer' ) . $config->get( 'Script' );
		if ( $type === RC_NEW ) {
			$query = '?oldid=' . $rc->getAttribute( 'rc_this_oldid' );
		} else {
			$query = '?diff=' . $rc->getAttribute( 'rc_this_oldid' ) . '&oldid=' . $rc->getAttribute( 'rc_last_oldid' );
		}
		if ( $config->get( 'UseRCPatrol' ) || ( $type === RC_NEW && $config->get( 'UseNPPatrol' ) ) ) {
			$query .= '&rcid=' . $rc->getAttribute( 'rc_id' );
		}
		$services->getHookContainer()->run( 'IRCLineURL', [ &$url, &$query, $rc ] );
		return $url . $query;
	}

	/**
	 * A payload built without PART_REDIRECT, with the redirect flag set as build() would have set it.
	 *
	 * @param string $payload From build()
	 * @param RecentChange $rc The change it was built for
	 * @return string
	 */
	public static function withRedirect( string $payload, RecentChange $rc ): string {
		if ( strlen( $payload ) <= self::PART_FAILED_BYTE ) {
			return $payload;
		}
		$services = MediaWikiServices::getInstance();
		if ( $services !== self::$from ) {
			self::refresh( $services );
		}
		$a = [];
		// Only the attributes isRedirect() reads (getAttributes() is what tests count as a build).
		foreach ( [ 'rc_type', 'rc_cur_id', 'rc_log_type', 'rc_log_action', 'rc_params' ] as $name ) {
			$a[$name] = $rc->getAttribute( $name );
		}
		if ( self::redirect( $rc->getPage(), $rc->getTitle(), $a ) ) {
			$payload[self::FLAGS_OFFSET] = chr( ord( $payload[self::FLAGS_OFFSET] ) | self::FLAG_REDIRECT );
		}
		if ( self::$failures ) {
			$payload[self::PART_FAILED_BYTE] = chr( ord( $payload[self::PART_FAILED_BYTE] ) | self::PART_FAILED_BIT );
		}
		return $payload;
	}

	/**
	 * isRedirect(), false (and the failure kept for takeFailures()) when MediaWiki throws.
	 *
	 * @param mixed $page RecentChange::getPage()
	 * @param Title $title
	 * @param array $a RecentChange attributes
	 * @return bool
	 */
	private static function redirect( $page, Title $title, array $a ): bool {
		return self::optional( self::PART_REDIRECT, static function () use ( $page, $title, $a ) {
			return self::isRedirect( $page, $title, $a ) ? '1' : '';
		} ) === '1';
	}

	/**
	 * The API's `redirect`: page_is_redirect of the page now at the change's title (ApiQueryRecentChanges
	 * LEFT JOINs page ON rc_namespace/rc_title, not on rc_cur_id), read right after the change.
	 *
	 * An edit or page creation saved by PageUpdater hands RecentChange the WikiPage it has just updated:
	 * WikiPage::updateRevisionOn() has reloaded the page row into the WikiPage's Title, whose public
	 * $mRedirect is then page_is_redirect as the API joins it (build() reads it; WikiPage::isRedirect() answers
	 * from the same row if it is not set, on 1.43 only when the redirect target is valid), with no lookup.
	 * Another PageIdentity (a caller building the change itself, or a Title after a core feed called
	 * getTitle()) takes the paths below.
	 *
	 * Otherwise first the page's row in the LinkCache, looked up by namespace and DB key: MediaWiki updates it
	 * on edits (WikiPage::updateRevisionOn() has just stored the new row) and invalidates it on deletion, and every
	 * PageStore lookup below reads the same row first, so a hit gives the same answer without the cost of
	 * Title::isRedirect()/canExist()/PageStore on a Title the change has just created (together 5 to 50 µs,
	 * most of an RcEmit notify). On a miss:
	 * - edits and page creations: Title::isRedirect(), from memory after the save (no query; the golden run
	 *   checks this);
	 * - log and categorisation rows: the title's cached state can be stale (a deleted page still answers from
	 *   the Title object the log entry holds), so the page is looked up by name through PageStore: a known
	 *   missing page from the LinkCache, else one indexed page query. Titles that cannot exist (Special:) are
	 *   never redirects.
	 * A log row whose rc_cur_id is 0 is not a redirect: RecentChange::newLogEntry() took it from the target
	 * (PageIdentity::getId()) when the entry was published, at the end of the logged action, and found no page
	 * (blocks and rights changes of users without a user page, protection of a missing title, tag
	 * management: no lookup needed). A page deletion's log row is never a redirect: the page is gone. Its
	 * LinkCache row can still be there: outside a transaction round (maintenance scripts such as
	 * deleteBatch.php) DeletePage publishes the log entry when its transaction commits, before its updates
	 * invalidate the cache. A page move's log row (at the old title) is a redirect exactly when the move left
	 * one: MovePage stores `5::noredir` as '0' when it creates the redirect, right before it publishes the
	 * entry, and as '1' when the old title is left empty; the serialised params end with it. A protection's
	 * or upload's log entry targets the Title whose page row the request has loaded, if any: protection leaves
	 * the page as it is, reading it first (ApiProtect loads it from the primary database, through WikiPage,
	 * which hands the row to its Title), and an upload publishes after its description page was saved or
	 * given a null revision through WikiPage::updateRevisionOn(), which reloads the row into the same Title
	 * (LocalFile::recordUpload3()). That Title's page_is_redirect is the answer then, without a lookup; a
	 * Title without its row takes the LinkCache path.
	 *
	 * @param mixed $page RecentChange::getPage()
	 * @param Title $title
	 * @param array $a RecentChange attributes
	 */
	private static function isRedirect( $page, Title $title, array $a ): bool {
		$type = (int)( $a['rc_type'] ?? 0 );
		if ( $type === self::RC_LOG ) {
			$logType = $a['rc_log_type'] ?? null;
			$logAction = $a['rc_log_action'] ?? null;
			if ( (int)( $a['rc_cur_id'] ?? 0 ) === 0
				|| ( $logAction === 'delete' && ( $logType === 'delete' || $logType === 'suppress' ) )
			) {
				return false;
			}
			$params = $a['rc_params'] ?? null;
			if ( $logType === 'move' && is_string( $params ) ) {
				if ( str_ends_with( $params, 's:10:"5::noredir";s:1:"0";}' ) ) {
					return true;
				}
				if ( str_ends_with( $params, 's:10:"5::noredir";s:1:"1";}' ) ) {
					return false;
				}
			}
			// Title::$mRedirect is public on 1.39 and 1.43: null until the page row is known.
			if ( ( $logType === 'protect' || $logType === 'upload' ) && $page instanceof Title
				&& $page->mRedirect !== null
			) {
				return $page->mRedirect;
			}
		}
		if ( $page instanceof WikiPage && ( $type === self::RC_EDIT || $type === self::RC_NEW ) ) {
			return $page->isRedirect();
		}
		$namespace = $title->getNamespace();
		$dbKey = $title->getDBkey();
		if ( $namespace >= 0 && $dbKey !== '' && !$title->isExternal() ) {
			// The service is kept while the container is the same (getLinkCache() costs half a µs); the array
			// form skips the TitleValue's validation, which the Title has done already.
			self::$linkCache ??= self::$from->getLinkCache();
			$cached = self::$linkCache->getGoodLinkFieldObj(
				[ 'page_namespace' => $namespace, 'page_title' => $dbKey ], 'redirect' );
			if ( $cached !== null ) {
				return (bool)$cached;
			}
		}
		if ( $type !== self::RC_LOG && $type !== self::RC_CATEGORIZE ) {
			return $title->isRedirect();
		}
		if ( !$title->canExist() ) {
			return false;
		}
		$page = self::$from->getPageStore()
			->getPageByName( $title->getNamespace(), $title->getDBkey() );
		return $page !== null && $page->isRedirect();
	}

	/**
	 * The API's `sha1` (ApiQueryRecentChanges LEFT JOINs revision ON rc_this_oldid = rev_id, log rows included):
	 * rev_sha1 in base 36 as 40 hex digits, '' when the row has none; null when there is no such revision or
	 * its text is hidden (the API then prints no `sha1`). One primary-key query on the primary database, which
	 * sees the revision the saving request has just inserted. Throws what the database throws.
	 */
	private static function sha1( int $revId ): ?string {
		if ( $revId <= 0 ) {
			return null;
		}
		$row = MediaWikiCompat::primaryDatabase()
			->selectRow( 'revision', [ 'rev_sha1', 'rev_deleted' ], [ 'rev_id' => $revId ], __METHOD__ );
		if ( !$row || $row->rev_sha1 === null || ( (int)$row->rev_deleted & 1 ) ) {
			// 1: RevisionRecord::DELETED_TEXT, which an anonymous reader of the API cannot see.
			return null;
		}
		return $row->rev_sha1 === '' ? '' : \Wikimedia\base_convert( $row->rev_sha1, 36, 16, 40 );
	}

	/**
	 * The API's `parsedcomment`: RowCommentFormatter::formatItems() over the row's comment with the row's title
	 * as self-link target, as ApiQueryRecentChanges calls it. The parser is the one the CommentParserFactory
	 * service would create (same link renderer and services), except that messages come in the wiki's content
	 * language, as api.php shows them to a reader without a language preference, instead of the saving
	 * user's. (CommentParser's constructor is the same on 1.39 and 1.43; the factory's is not, T397900.) May
	 * query link targets of the comment (a LinkBatch). Throws what the comment parser throws.
	 *
	 * @param string $comment
	 * @param array $attribs RecentChange attributes
	 * @return string
	 */
	private static function parsedComment( string $comment, array $attribs ): string {
		$services = MediaWikiServices::getInstance();
		$contentLanguage = $services->getContentLanguage();
		$parser = new CommentParser(
			$services->getLinkRenderer(),
			$services->getLinkBatchFactory(),
			$services->getLinkCache(),
			$services->getRepoGroup(),
			$contentLanguage,
			$contentLanguage,
			$services->getTitleParser(),
			$services->getNamespaceInfo(),
			$services->getHookContainer()
		);
		$factory = new class( $parser ) extends CommentParserFactory {
			/** @var CommentParser */
			private $parser;

			// Not the parent's constructor: its parameters differ between versions, and create() is all
			// CommentFormatter calls.
			public function __construct( CommentParser $parser ) {
				$this->parser = $parser;
			}

			public function create() {
				return $this->parser;
			}
		};
		$item = ( new CommentItem( $comment ) )->selfLinkTarget(
			new TitleValue( (int)( $attribs['rc_namespace'] ?? 0 ), (string)( $attribs['rc_title'] ?? '' ) ) );
		return (string)( new CommentFormatter( $factory ) )->formatItems( [ $item ] )[0];
	}

	/**
	 * The log params for the payload: when rc_params unserialises to an array (every row core writes), that
	 * array with its keys as stored (`4::target`), JSON-encoded, and $stored set to it; the library derives
	 * core's `log_params` (keys stripped) and, for the types it knows, the API's `logparams` from it.
	 * Otherwise (legacy newline lists, scalars) the `log_params` of core's json/xml packets
	 * (MachineReadableRCFeedFormatter::getLine) themselves, and $stored null. '' when core leaves the key out
	 * (empty rc_params).
	 *
	 * @param RecentChange $rc
	 * @param array|null &$stored
	 * @return string
	 */
	private static function logParams( RecentChange $rc, ?array &$stored ): string {
		$stored = null;
		$rcParams = $rc->getAttribute( 'rc_params' );
		if ( !$rcParams ) {
			return '';
		}
		$params = $rc->parseParams();
		if ( is_array( $params ) ) {
			$stored = $params;
			return (string)json_encode( $params, self::JSON_FLAGS );
		}
		if ( $rcParams == serialize( false ) || $params !== false ) {
			$logParams = [];
			// Core iterates whatever unserialize() returned; a scalar yields nothing.
			if ( is_object( $params ) ) {
				foreach ( $params as $key => $value ) {
					if ( strpos( (string)$key, ':' ) === false ) {
						$logParams[$key] = $value;
						continue;
					}
					$logParams[explode( ':', $key, 3 )[2] ?? ''] = $value;
				}
			}
		} else {
			$logParams = explode( "\n", $rcParams );
		}
		return (string)json_encode( $logParams, self::JSON_FLAGS );
	}

	/**
	 * Forgets what was kept of another container's wiki (tests reset the services).
	 */
	private static function refresh( MediaWikiServices $services ): void {
		self::$from = $services;
		self::$linkCache = self::$language = self::$logHandlers = self::$utc = null;
		self::$apiKinds = self::$namespaces = [];
	}

	/**
	 * What the library does with the API params of this log type and action (API_*): it derives them
	 * (src/format/api_log_params.rs) for a log type whose core formatter it reproduces, still handled by that
	 * formatter ($wgLogActionsHandlers not overridden). Kept per log type and action.
	 */
	private static function apiKind( string $logType, string $logAction ): int {
		$key = "$logType/$logAction";
		$formatter = self::LIBRARY_LOG_FORMATTERS[$key] ?? null;
		self::$logHandlers ??= self::$from->getMainConfig()->get( 'LogActionsHandlers' );
		$kind = self::API_BY_PHP;
		if ( $formatter !== null && ( self::$logHandlers[$key] ?? null ) === $formatter ) {
			$block = $formatter === 'BlockLogFormatter' && $logAction !== 'unblock';
			$kind = isset( self::TITLE_PARAMS[$logType] ) ? self::API_TITLE
				: ( $block ? self::API_BLOCK : self::API_PLAIN );
		}
		if ( count( self::$apiKinds ) >= self::MEMO_MAX ) {
			self::$apiKinds = [];
		}
		self::$apiKinds[$logType][$logAction] = $kind;
		return $kind;
	}

	/**
	 * Whether an API_BLOCK row's serialised params show, first (LIBRARY_SERIALIZABLE's captures), a duration
	 * the library reads: in its usual spelling (one of wfIsInfinity()'s words, or `<number> <unit>`: one
	 * space, lower case; the others go the PHP way) and, if relative, in UTC.
	 *
	 * @param string[] $first LIBRARY_SERIALIZABLE's match
	 * @return bool
	 */
	private static function blockDurationReadable( array $first ): bool {
		// A value with a quote shows less text than its length.
		if ( !isset( $first[3] ) || $first[1] !== self::BLOCK_DURATION_KEY || strlen( $first[3] ) !== (int)$first[2]
		) {
			return false;
		}
		$relative = self::USUAL_BLOCK_DURATIONS[$first[3]] ?? null;
		if ( $relative === null ) {
			return self::durationReadable( $first[3] );
		}
		return !$relative || ( self::$utc ??= date_default_timezone_get() === 'UTC' );
	}

	/**
	 * The namespace of an API_TITLE row's title (titleNamespace()), as the decimal number the library takes,
	 * when its serialised params show the title first (LIBRARY_SERIALIZABLE's captures); else null. One
	 * function for both, with the namespace kept per prefix read here: a move is rare, so its code is cold,
	 * and a call less was 0.6 µs of a move row (benchmark rows side by side).
	 *
	 * @param string $logType
	 * @param string[] $first LIBRARY_SERIALIZABLE's match
	 * @return string|null
	 */
	private static function serialisedTitleNamespace( string $logType, array $first ): ?string {
		// A value with a quote shows less text than its length.
		if ( !isset( $first[3] ) || $first[1] !== self::TITLE_PARAMS[$logType][1]
			|| strlen( $first[3] ) !== (int)$first[2]
		) {
			return null;
		}
		$colon = strpos( $first[3], ':' );
		if ( $colon === false ) {
			return (string)NS_MAIN;
		}
		return (string)( self::$namespaces[substr( $first[3], 0, $colon )] ?? self::titleNamespace( $first[3] ) );
	}

	/**
	 * Whether the library reads a block duration as BlockLogFormatter does: one of wfIsInfinity()'s words, or
	 * `<1 to 5 digits> <unit>[s]` (one space, lower case; other spellings go the PHP way, which prints the
	 * same) while PHP's time zone is UTC, as strtotime() adds it in the default zone.
	 */
	private static function durationReadable( string $duration ): bool {
		if ( isset( self::INFINITY[$duration] ) ) {
			return true;
		}
		$digits = strspn( $duration, '0123456789' );
		return $digits >= 1 && $digits <= 5 && ( $duration[$digits] ?? '' ) === ' '
			&& isset( self::DURATION_UNITS[substr( $duration, $digits + 1 )] )
			&& ( self::$utc ??= date_default_timezone_get() === 'UTC' );
	}

	/**
	 * Whether the library derives the API params from params read here (not sent serialised): always, but
	 * for a block only with a duration durationReadable() accepts and no page restrictions (titles), and for
	 * a move or merge only with a title param, whose namespace is returned.
	 *
	 * @param int $kind API_* but API_BY_PHP
	 * @param string $logType
	 * @param array $stored The params as stored
	 * @param string|null &$titleNs Set to a move's or merge's title namespace, as a decimal number
	 * @return bool
	 */
	private static function storedReadable( int $kind, string $logType, array $stored, ?string &$titleNs
	): bool {
		if ( $kind === self::API_TITLE ) {
			$title = $stored[self::TITLE_PARAMS[$logType][0]] ?? null;
			if ( !is_string( $title ) ) {
				return false;
			}
			$titleNs = (string)self::titleNamespace( $title );
			return true;
		}
		if ( $kind !== self::API_BLOCK ) {
			return true;
		}
		if ( isset( $stored[0] ) ) {
			return false;
		}
		foreach ( $stored as $name => $value ) {
			// `7::restrictions` as BlockUser stores it; pages are titles.
			if ( isset( $value['pages'] ) && substr( (string)$name, -12 ) === 'restrictions' ) {
				return false;
			}
		}
		$duration = $stored['5::duration'] ?? 'infinity';
		return is_string( $duration ) && self::durationReadable( $duration );
	}

	/**
	 * The namespace Title::newFromText() gives a title's prefixed text: that of the part before the first
	 * colon (trailing spaces dropped, as MediaWikiTitleCodec drops them) when the content language knows it as
	 * a namespace name or alias, else the main namespace; kept per prefix. An interwiki prefix, which the
	 * codec would try next, cannot start the prefixed text of a page that was just moved or merged to: the
	 * codec gave it its namespace when the request parsed it.
	 */
	private static function titleNamespace( string $text ): int {
		$colon = strpos( $text, ':' );
		if ( $colon === false ) {
			return NS_MAIN;
		}
		$prefix = substr( $text, 0, $colon );
		if ( isset( self::$namespaces[$prefix] ) ) {
			return self::$namespaces[$prefix];
		}
		self::$language ??= self::$from->getContentLanguage();
		$ns = self::$language->getNsIndex( rtrim( strtr( $prefix, ' ', '_' ), '_' ) );
		if ( count( self::$namespaces ) >= self::MEMO_MAX ) {
			self::$namespaces = [];
		}
		self::$namespaces[$prefix] = $ns === false ? NS_MAIN : $ns;
		return self::$namespaces[$prefix];
	}

	/**
	 * The API's `logparams` (ApiQueryRecentChanges::extractRowInfo), with ApiResult metadata keys kept;
	 * '' (and the failure kept for takeFailures()) if the formatter fails, so a broken log type never breaks
	 * the edit.
	 *
	 * @param array $attribs RecentChange attributes (an rc row, as LogFormatterFactory::newFromRow() accepts)
	 */
	private static function apiLogParams( array $attribs ): string {
		$params = self::optional( self::PART_API_PARAMS, static function () use ( $attribs ) {
			return (string)json_encode(
				MediaWikiCompat::logFormatterFromRow( $attribs )->formatParametersForApi(), self::JSON_FLAGS );
		} );
		return $params ?? '';
	}
}
