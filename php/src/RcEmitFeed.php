<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use MediaWiki\MediaWikiServices;
use RCFeed;
use RecentChange;
use Throwable;
use Title;
use WikiMap;

// Global functions of the per-change path, bound when compiled (count() becomes an opcode).
use function count;
use function ord;
use function register_shutdown_function;

/**
 * A $wgRCFeeds entry published by rcemit:
 *
 *     $wgRCFeeds['irc-relay'] = [
 *         'class'  => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
 *         'uri'    => "udp://127.0.0.1:9390/#en.wikipedia\t",
 *         'format' => 'irc',   // xmlrc (default) | json | xml | irc
 *     ];
 *
 * Options besides core's (`uri`, `omit_*`, `channel`, `add_interwiki_prefix`): `format`; `formatter` (core's
 * JSONRCFeedFormatter, XMLRCFeedFormatter or IRCColourfulRCFeedFormatter, by the global or the
 * MediaWiki\RCFeed\ name or as an object, mapped to json, xml, irc, so that changing only `class` of a core
 * entry is enough); `properties` for xmlrc (API rcprop list, string `a|b` or
 * array; default XMLRC's); `max_datagram` (bytes, optional).
 *
 * Core constructs a new feed object for every change, so the constructor only stores the parameters; the
 * payload is built once per change for all RcEmit feeds, the library feed is opened once per process, and
 * notify() makes one FFI call. Nothing here throws: a failure is logged once on the `rcemit` channel.
 *
 * The payload carries the xmlrc-only parts (PayloadBuilder::PART_*: redirect flag, API log params, sha1,
 * parsedcomment) only when some RcEmit feed's properties print them: those of every RcEmit entry of
 * $wgRCFeeds from the start, those of a feed notified directly when it asks.
 */
class RcEmitFeed extends RCFeed {
	/** Formats the library renders. */
	private const FORMATS = [ 'xmlrc', 'json', 'xml', 'irc' ];
	/** The library's xmlrc property list when `properties` is not set (XMLRC's default). */
	private const XMLRC_DEFAULT = 'user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags';
	/** xmlrc properties that need an optional payload part. */
	private const XMLRC_PARTS = [
		'loginfo' => PayloadBuilder::PART_API_PARAMS,
		'redirect' => PayloadBuilder::PART_REDIRECT,
		'sha1' => PayloadBuilder::PART_SHA1,
		'parsedcomment' => PayloadBuilder::PART_PARSED_COMMENT,
	];
	/**
	 * Core formatters a drop-in entry may still name, and the format that reproduces each: the names 1.39
	 * uses, and 1.43's (where the global ones are deprecated aliases). Strings, not ::class, so that neither
	 * version autoloads or warns.
	 */
	private const FORMATTERS = [
		'JSONRCFeedFormatter' => 'json',
		'XMLRCFeedFormatter' => 'xml',
		'IRCColourfulRCFeedFormatter' => 'irc',
		'MediaWiki\RCFeed\JSONRCFeedFormatter' => 'json',
		'MediaWiki\RCFeed\XMLRCFeedFormatter' => 'xml',
		'MediaWiki\RCFeed\IRCColourfulRCFeedFormatter' => 'irc',
	];
	/** Hooks whose handlers may change Title::getCanonicalURL() (title_url). */
	private const URL_HOOKS = [ 'GetLocalURL', 'GetLocalURL::Article', 'GetLocalURL::Internal', 'GetCanonicalURL' ];

	/** @var MediaWikiServices|null The container $emitter and $tagCache came from (tests may reset it) */
	private static $services = null;
	/** @var Emitter|null */
	private static $emitter = null;
	/** @var TagCache|null */
	private static $tagCache = null;
	/** @var array<string,array{0:RcEmitLibrary,1:int,2:int}|false> By key(): see open() */
	private static $feeds = [];
	/**
	 * @var array<int,array{0:array,1:array|false}> Parameter arrays seen and their self::$feeds entry, so that
	 *  a known entry is found by comparing arrays (core passes equal ones for every change) without key()
	 */
	private static $seen = [];
	/** Parameter arrays remembered in $seen; further ones use key() every time. */
	private const SEEN_MAX = 16;
	/** @var int|null PayloadBuilder::PART_* bits some RcEmit feed in $wgRCFeeds needs */
	private static $anyParts = null;
	/** @var RecentChange|null The change the cached payload was built for (kept alive: no id reuse) */
	private static $payloadRc = null;
	/** @var string */
	private static $payload = '';
	/** @var int PayloadBuilder::PART_* bits the cached payload is complete for */
	private static $payloadParts = 0;
	/** @var bool|null Whether this wiki's changes may be published (see wikiIsPublishable()) */
	private static $publishable = null;
	/**
	 * @var bool|null Whether notify() queues without waking the sender and wakes it once when the request
	 *  ends, after its response (web SAPIs; see wakeAfterResponse())
	 */
	private static $wakeAfterResponse = null;
	/** @var bool Whether the wake-up is registered for this request */
	private static $wakeRegistered = false;

	/** @var array */
	private $params;

	/**
	 * @param array $params The $wgRCFeeds entry
	 */
	public function __construct( array $params = [] ) {
		$this->params = $params;
	}

	/**
	 * @param RecentChange $rc
	 * @param string|null $actionComment
	 * @return bool Whether the change was queued for sending
	 */
	public function notify( RecentChange $rc, $actionComment = null ) {
		// Suppressed at creation (T403757): core's notifyRCFeeds() already skips these; refuse them here too
		// for callers that call a feed directly, since a datagram cannot be redacted afterwards.
		if ( (int)$rc->getAttribute( 'rc_deleted' ) !== 0 ) {
			return false;
		}
		try {
			$feed = null;
			foreach ( self::$seen as $seen ) {
				if ( $seen[0] === $this->params ) {
					$feed = $seen[1];
					break;
				}
			}
			if ( $feed === null ) {
				$feed = self::$feeds[$this->key()] ?? $this->open();
				if ( count( self::$seen ) < self::SEEN_MAX ) {
					self::$seen[] = [ $this->params, $feed ];
				}
			}
			if ( !$feed ) {
				return false;
			}
			$payload = self::payload( $rc, $actionComment, $feed[2] );
			if ( !( self::$wakeAfterResponse ?? ( self::$wakeAfterResponse = PHP_SAPI !== 'cli' ) ) ) {
				return $feed[0]->emit( $feed[1], $payload ) === RcEmitLibrary::RESULT_OK;
			}
			if ( !self::$wakeRegistered ) {
				self::$wakeRegistered = true;
				register_shutdown_function( [ self::class, 'wakeSender' ] );
			}
			return $feed[0]->queue( $feed[1], $payload ) === RcEmitLibrary::RESULT_OK;
		} catch ( Throwable $e ) {
			try {
				self::emitter()->warnOnce( 'notify:' . get_class( $e ),
					'RcEmit could not publish a recent change: {cause}', $e );
			} catch ( Throwable $ignored ) {
				// Never break the edit, not even when logging fails.
			}
			return false;
		}
	}

	/**
	 * Chooses when the sender thread is woken. Waking a sleeping thread is a system call, most of what
	 * handing a change over costs; a web request (the default outside the CLI) therefore only queues its
	 * changes and wakes the sender once, from a shutdown function, which PHP runs after MediaWiki has sent
	 * the response (fastcgi_finish_request() or its flush). The library sends a change nobody woke it for
	 * within a second anyway. The CLI (maintenance scripts, the job runner) wakes it on every change.
	 *
	 * @param bool $on
	 */
	public static function wakeAfterResponse( bool $on ): void {
		self::$wakeAfterResponse = $on;
	}

	/** Wakes the sender for the changes this request queued (registered by notify()). */
	public static function wakeSender(): void {
		self::$wakeRegistered = false;
		try {
			$library = self::emitter()->library();
			if ( $library ) {
				$library->wake();
			}
		} catch ( Throwable $e ) {
			try {
				self::emitter()->warnOnce( 'wake', 'RcEmit could not wake its sender (queued changes leave ' .
					'within a second anyway): {cause}', $e );
			} catch ( Throwable $ignored ) {
				// Never break the end of a request, not even when logging fails.
			}
		}
	}

	/** @return Emitter The process's emitter (the service RcEmit.Emitter) */
	public static function emitter(): Emitter {
		self::services();
		return self::$emitter;
	}

	/**
	 * Fetches this extension's services once per container: core constructs a feed object per change with
	 * `new $class( $params )`, so they cannot be injected, and a service lookup per change would cost more
	 * than the rest of notify().
	 */
	private static function services(): void {
		$services = MediaWikiServices::getInstance();
		if ( $services !== self::$services ) {
			self::$emitter = $services->getService( 'RcEmit.Emitter' );
			self::$tagCache = $services->getService( 'RcEmit.TagCache' );
			self::$services = $services;
		}
	}

	/**
	 * The payload of this change, built once for all RcEmit feeds notified about it, with the optional parts
	 * every RcEmit entry of $wgRCFeeds needs. A feed needing more (notified directly) gets the redirect flag
	 * patched in, or the payload rebuilt once with the union of the parts.
	 *
	 * @param RecentChange $rc
	 * @param string|null $actionComment
	 * @param int $parts PayloadBuilder::PART_* bits the calling feed needs
	 * @return string
	 */
	private static function payload( RecentChange $rc, ?string $actionComment, int $parts ): string {
		if ( self::$payloadRc === $rc ) {
			$missing = $parts & ~self::$payloadParts;
			if ( $missing === 0 ) {
				return self::$payload;
			}
			if ( $missing === PayloadBuilder::PART_REDIRECT ) {
				self::$payloadParts |= $missing;
				self::$payload = PayloadBuilder::withRedirect( self::$payload, $rc );
				self::logPartFailures();
				return self::$payload;
			}
			$parts |= self::$payloadParts;
		}
		$parts |= self::$anyParts ?? ( self::$anyParts = self::anyFeedParts() );
		if ( self::$services !== MediaWikiServices::getInstance() ) {
			self::services();
		}
		self::$payload = PayloadBuilder::build( self::$services, $rc, $actionComment,
			self::$tagCache->get( (int)$rc->getAttribute( 'rc_id' ) ), $parts, $complete );
		self::$payloadRc = $rc;
		self::$payloadParts = $complete;
		if ( ord( self::$payload[PayloadBuilder::PART_FAILED_BYTE] ) & PayloadBuilder::PART_FAILED_BIT ) {
			self::logPartFailures();
		}
		return self::$payload;
	}

	/**
	 * Logs each kind of optional-part failure once per process; the library counts every change sent without
	 * its part (`part_failures`).
	 */
	private static function logPartFailures(): void {
		foreach ( PayloadBuilder::takeFailures() as $part => $e ) {
			self::emitter()->warnOnce( "part:$part",
				"RcEmit sent changes without their $part because MediaWiki failed to compute it (counted in " .
				'part_failures; logged once per process): {cause}', $e );
		}
	}

	/** The PayloadBuilder::PART_* bits of all RcEmit entries of $wgRCFeeds (each payload carries them). */
	private static function anyFeedParts(): int {
		$parts = 0;
		foreach ( MediaWikiServices::getInstance()->getMainConfig()->get( 'RCFeeds' ) as $params ) {
			if ( is_array( $params ) && ( $params['class'] ?? null ) === self::class ) {
				$parts |= ( new self( $params ) )->parts() ?? 0;
			}
		}
		return $parts;
	}

	/** A cheap key of the options that shape this feed's library configuration. */
	private function key(): string {
		$p = $this->params;
		$formatter = $p['formatter'] ?? '';
		$properties = $p['properties'] ?? '';
		$prefix = $p['add_interwiki_prefix'] ?? false;
		return ( $p['uri'] ?? '' ) . "\0" . ( $p['format'] ?? '' ) . "\0" .
			( is_object( $formatter ) ? get_class( $formatter ) : $formatter ) . "\0" .
			( is_array( $properties ) ? implode( '|', $properties ) : $properties ) . "\0" .
			( $p['channel'] ?? '' ) . "\0" .
			( is_string( $prefix ) ? "s$prefix" : ( $prefix ? 't' : 'f' ) ) . "\0" . ( $p['max_datagram'] ?? '' );
	}

	/**
	 * Opens this entry's library feed, once per process and key.
	 *
	 * @return array{0:RcEmitLibrary,1:int,2:int}|false [library, feed handle, PayloadBuilder::PART_* bits it
	 *  needs], or false when rcemit or this entry is unusable (logged once)
	 */
	private function open() {
		$key = $this->key();
		$emitter = self::emitter();
		self::$feeds[$key] = false;
		if ( !( self::$publishable ?? self::wikiIsPublishable() ) ) {
			return false;
		}
		$parts = $this->parts();
		if ( $parts === null ) {
			return false;
		}
		$handle = $emitter->feed( $key, function () {
			return $this->libraryConfig();
		} );
		if ( $handle !== null ) {
			self::$feeds[$key] = [ $emitter->library(), $handle, $parts ];
		}
		return self::$feeds[$key];
	}

	/**
	 * A private wiki (anonymous users cannot read) publishes only when $wgRcEmitAllowPrivateWiki says so:
	 * every datagram carries titles, user names and summaries to whoever receives it. Checked once per
	 * process (in a web SAPI: once per request, as PHP keeps no state between requests); it is a lookup in
	 * $wgGroupPermissions / $wgRevokePermissions.
	 */
	private static function wikiIsPublishable(): bool {
		$services = MediaWikiServices::getInstance();
		self::$publishable = true;
		if ( !$services->getGroupPermissionsLookup()->groupHasPermission( '*', 'read' ) ) {
			$config = $services->getMainConfig();
			self::$publishable = $config->has( 'RcEmitAllowPrivateWiki' )
				&& $config->get( 'RcEmitAllowPrivateWiki' ) === true;
			if ( !self::$publishable ) {
				self::emitter()->warnOnce( 'private', 'RcEmit is disabled in this PHP process: {cause}',
					new RcEmitException( 'this wiki is private (anonymous users lack the "read" right) and ' .
					'its feeds would publish page titles, user names and edit summaries to every receiver. Fix: ' .
					'if everyone who can receive the datagrams may read the wiki, set ' .
					'$wgRcEmitAllowPrivateWiki = true; otherwise remove the RcEmit feeds.' ) );
			}
		}
		return self::$publishable;
	}

	/**
	 * The optional payload parts this entry needs: xmlrc, one for each property that needs one (the library
	 * trims property names, so this does too); irc, and json/xml on MediaWiki 1.41+, MediaWiki's own URLs
	 * where a hook handler may change them.
	 *
	 * @return int|null PayloadBuilder::PART_* bits; null when the entry's format options are unusable (logged
	 *  once)
	 */
	private function parts(): ?int {
		try {
			$format = $this->format();
		} catch ( RcEmitException $e ) {
			self::emitter()->warnOnce( 'feed:' . $this->key(), 'RcEmit feed disabled in this PHP process: {cause}',
				$e );
			return null;
		}
		if ( $format === 'xmlrc' ) {
			$properties = array_map( 'trim', explode( '|', $this->properties() ?? self::XMLRC_DEFAULT ) );
			$parts = 0;
			foreach ( self::XMLRC_PARTS as $property => $part ) {
				if ( in_array( $property, $properties, true ) ) {
					$parts |= $part;
				}
			}
			return $parts;
		}
		if ( $format !== 'irc' && !MediaWikiCompat::packetHasUrls() ) {
			return 0;
		}
		$hooks = MediaWikiServices::getInstance()->getHookContainer();
		$parts = $hooks->isRegistered( 'IRCLineURL' ) ? PayloadBuilder::PART_NOTIFY_URL : 0;
		if ( $format !== 'irc' ) {
			foreach ( self::URL_HOOKS as $hook ) {
				if ( $hooks->isRegistered( $hook ) ) {
					$parts |= PayloadBuilder::PART_TITLE_URL;
				}
			}
		}
		return $parts;
	}

	private function format(): string {
		$p = $this->params;
		if ( isset( $p['format'] ) ) {
			if ( !in_array( $p['format'], self::FORMATS, true ) ) {
				throw new RcEmitException( sprintf(
					'$wgRCFeeds entry for %s has format "%s". Fix: use one of %s.',
					$p['uri'] ?? '(no uri)', $p['format'], implode( ', ', self::FORMATS )
				) );
			}
			return $p['format'];
		}
		if ( isset( $p['formatter'] ) ) {
			$formatter = is_object( $p['formatter'] ) ? get_class( $p['formatter'] ) : (string)$p['formatter'];
			foreach ( self::FORMATTERS as $class => $format ) {
				// Class names are case-insensitive in PHP.
				if ( strcasecmp( ltrim( $formatter, '\\' ), $class ) === 0 ) {
					return $format;
				}
			}
			throw new RcEmitException( sprintf(
				'$wgRCFeeds entry for %s names formatter %s, which RcEmit cannot reproduce. Fix: replace it by ' .
				"'format' => one of %s, or keep core's class for this entry.",
				$p['uri'] ?? '(no uri)', $formatter, implode( ', ', self::FORMATS )
			) );
		}
		return 'xmlrc';
	}

	/** @return string|null The xmlrc property list as `a|b`, or null for the library's default */
	private function properties(): ?string {
		$properties = $this->params['properties'] ?? null;
		if ( $properties === null ) {
			return null;
		}
		return is_array( $properties ) ? implode( '|', $properties ) : (string)$properties;
	}

	/** The rcemit_feed_open() configuration: this entry's options and the wiki's facts. */
	private function libraryConfig(): array {
		$services = MediaWikiServices::getInstance();
		$main = $services->getMainConfig();
		$p = $this->params;
		$config = [
			'uri' => (string)( $p['uri'] ?? '' ),
			'format' => $this->format(),
			'canonical_server' => (string)$main->get( 'CanonicalServer' ),
			'server_name' => (string)$main->get( 'ServerName' ),
			'script_path' => (string)$main->get( 'ScriptPath' ),
			'script' => (string)$main->get( 'Script' ),
			'article_path' => (string)$main->get( 'ArticlePath' ),
			'main_page_at_root' => $main->get( 'MainPageIsDomainRoot' )
				? Title::newMainPage()->getPrefixedText() : null,
			'packet_layout' => MediaWikiCompat::packetHasUrls() ? '1.41' : '1.39',
			'wiki_id' => WikiMap::getCurrentWikiId(),
			'special_namespace' => $services->getContentLanguage()->getFormattedNsText( NS_SPECIAL ),
			'use_rc_patrol' => (bool)$main->get( 'UseRCPatrol' ),
			'use_np_patrol' => (bool)$main->get( 'UseNPPatrol' ),
			'irc_interwiki_prefix' => self::interwikiPrefix(
				$p['add_interwiki_prefix'] ?? false, $main->get( 'LocalInterwikis' ) ),
			'channel' => isset( $p['channel'] ) ? (string)$p['channel'] : null,
			'xmlrc_properties' => $this->properties(),
		];
		if ( isset( $p['max_datagram'] ) ) {
			$config['max_datagram'] = (int)$p['max_datagram'];
		}
		return $config;
	}

	/**
	 * The IRC title prefix exactly as IRCColourfulRCFeedFormatter computes it: `true` means the first local
	 * interwiki; any other truthy value is used as text (so `true` without local interwikis gives "1", as core).
	 *
	 * @param mixed $option The feed's add_interwiki_prefix
	 * @param array $localInterwikis
	 * @return string|null
	 */
	private static function interwikiPrefix( $option, array $localInterwikis ): ?string {
		if ( $option === true && $localInterwikis ) {
			return (string)$localInterwikis[0];
		}
		return $option ? (string)$option : null;
	}
}
