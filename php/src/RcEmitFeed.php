<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use IRCColourfulRCFeedFormatter;
use JSONRCFeedFormatter;
use MediaWiki\Logger\LoggerFactory;
use MediaWiki\MediaWikiServices;
use RCFeed;
use RecentChange;
use Throwable;
use WeakReference;
use WikiMap;
use XMLRCFeedFormatter;

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
 * JSONRCFeedFormatter, XMLRCFeedFormatter or IRCColourfulRCFeedFormatter, mapped to json, xml, irc, so that
 * changing only `class` of a core entry is enough); `properties` for xmlrc (API rcprop list, string `a|b` or
 * array; default XMLRC's); `max_datagram` (bytes, optional).
 *
 * Core constructs a new feed object for every change, so the constructor only stores the parameters; the
 * payload is built once per change for all RcEmit feeds, the library feed is opened once per process, and
 * notify() makes one FFI call. Nothing here throws: a failure is logged once on the `rcemit` channel.
 */
class RcEmitFeed extends RCFeed {
	/** Formats the library renders. */
	private const FORMATS = [ 'xmlrc', 'json', 'xml', 'irc' ];
	/** Core formatters a drop-in entry may still name, and the format that reproduces each. */
	private const FORMATTERS = [
		JSONRCFeedFormatter::class => 'json',
		XMLRCFeedFormatter::class => 'xml',
		IRCColourfulRCFeedFormatter::class => 'irc',
	];

	/** @var Emitter|null */
	private static $emitter = null;
	/** @var array<string,array{0:RcEmitLibrary,1:int,2:bool}|false> By key(): see open() */
	private static $feeds = [];
	/** @var bool|null Whether some RcEmit feed in $wgRCFeeds needs the API's log params */
	private static $anyNeedsApiParams = null;
	/** @var WeakReference|null The change the cached payload was built for */
	private static $payloadRc = null;
	/** @var string */
	private static $payload = '';
	/** @var bool The cached payload carries the API's log params */
	private static $payloadHasApiParams = false;
	/** @var bool|null Whether this wiki's changes may be published (see wikiIsPublishable()) */
	private static $publishable = null;

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
			$feed = self::$feeds[$this->key()] ?? $this->open();
			if ( !$feed ) {
				return false;
			}
			[ $library, $handle, $needsApiParams ] = $feed;
			return $library->emit( $handle, self::payload( $rc, $actionComment, $needsApiParams ) )
				=== RcEmitLibrary::RESULT_OK;
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

	/** @return Emitter The process's emitter, configured from $wgRcEmit* */
	public static function emitter(): Emitter {
		if ( !self::$emitter ) {
			$config = MediaWikiServices::getInstance()->getMainConfig();
			$repo = dirname( __DIR__, 2 );
			// has(): the class also works when only autoloaded, without wfLoadExtension( 'RcEmit' ).
			$setting = static function ( string $name ) use ( $config ) {
				return $config->has( $name ) ? $config->get( $name ) : null;
			};
			self::$emitter = new Emitter(
				$setting( 'RcEmitLibraryPath' ) ?? "$repo/target/release/librcemit.so",
				$setting( 'RcEmitHeaderPath' ) ?? "$repo/include/rcemit.h",
				LoggerFactory::getInstance( 'rcemit' )
			);
		}
		return self::$emitter;
	}

	/**
	 * The payload of this change, built once for all RcEmit feeds notified about it. The API's log params
	 * (log rows, xmlrc only) are included from the start when any RcEmit entry of $wgRCFeeds needs them;
	 * otherwise a feed needing them rebuilds the payload of a log row once.
	 */
	private static function payload( RecentChange $rc, ?string $actionComment, bool $needsApiParams ): string {
		if ( self::$payloadRc && self::$payloadRc->get() === $rc && ( self::$payloadHasApiParams
			|| !$needsApiParams || (int)$rc->getAttribute( 'rc_type' ) !== RC_LOG )
		) {
			return self::$payload;
		}
		if ( self::$anyNeedsApiParams === null ) {
			self::$anyNeedsApiParams = self::anyFeedNeedsApiParams();
		}
		$withApiParams = $needsApiParams || self::$anyNeedsApiParams;
		self::$payload = PayloadBuilder::build( $rc, $actionComment, $withApiParams );
		self::$payloadRc = WeakReference::create( $rc );
		self::$payloadHasApiParams = $withApiParams;
		return self::$payload;
	}

	/** Whether any RcEmit entry of $wgRCFeeds renders xmlrc with log info (then every payload carries it). */
	private static function anyFeedNeedsApiParams(): bool {
		$feeds = MediaWikiServices::getInstance()->getMainConfig()->get( 'RCFeeds' );
		foreach ( $feeds as $params ) {
			if ( is_array( $params ) && ( $params['class'] ?? null ) === self::class
				&& ( new self( $params ) )->needsApiParams()
			) {
				return true;
			}
		}
		return false;
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
	 * @return array{0:RcEmitLibrary,1:int,2:bool}|false [library, feed handle, needs API log params], or false
	 *  when rcemit or this entry is unusable (logged once)
	 */
	private function open() {
		$key = $this->key();
		$emitter = self::emitter();
		self::$feeds[$key] = false;
		if ( !( self::$publishable ?? self::wikiIsPublishable() ) ) {
			return false;
		}
		$needsApiParams = $this->needsApiParams();
		if ( $needsApiParams === null ) {
			return false;
		}
		$handle = $emitter->feed( $key, function () {
			return $this->libraryConfig();
		} );
		if ( $handle !== null ) {
			self::$feeds[$key] = [ $emitter->library(), $handle, $needsApiParams ];
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
	 * Whether this entry renders xmlrc with log info, which needs the API's log params in the payload.
	 *
	 * @return bool|null Null when the entry's format options are unusable (logged once)
	 */
	private function needsApiParams(): ?bool {
		try {
			$properties = $this->properties();
			return $this->format() === 'xmlrc'
				&& ( $properties === null || in_array( 'loginfo', explode( '|', $properties ), true ) );
		} catch ( RcEmitException $e ) {
			self::emitter()->warnOnce( 'feed:' . $this->key(), 'RcEmit feed disabled in this PHP process: {cause}',
				$e );
			return null;
		}
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
