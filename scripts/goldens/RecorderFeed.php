<?php
/**
 * @license GPL-2.0-or-later
 */

use MediaWiki\Extension\RcEmit\PayloadBuilder;
use MediaWiki\MediaWikiServices;

/**
 * Golden-data recorder for scripts/regen-goldens.sh (never loaded by the extension).
 *
 * Configured first in $wgRCFeeds, so for every change it runs before core's feeds: it builds rcemit's
 * payload with every optional part (PayloadBuilder::PART_ALL, so that one payload serves every feed, the
 * all-properties xmlrc feed included), appends it (base64) with rc_id to the JSON-lines file `out`, then sends
 * "RCEMIT-MARK <rc_id>" to every port in `mark_ports`, so the listener can attribute the core datagrams that
 * follow on each port to this change. It also notes whether building the payload with the parts of the
 * default configuration (xmlrc's default properties) ran a database query and how long that took (first and
 * second call), for the report; sha1 and parsedcomment may query.
 *
 * Query detection, the same on MediaWiki 1.39 and 1.43 (1.43 has no Database::lastQuery()): the connection's
 * DBO_DEBUG flag is set around the build, which makes rdbms log every query it runs (channel DBQuery on 1.39,
 * rdbms on 1.43; drive.py sends both to the file `query_log`), and the log's new lines are searched for query
 * records ("METHOD [TIME ms] SERVER: SQL" on 1.43, "[TIMEs]" on 1.39). The connection comes from
 * ILoadBalancer::getConnection(), which neither version deprecates (wfGetDB() is deprecated on 1.43).
 * Extends the global RCFeed name, a plain class_alias of MediaWiki\RCFeed\RCFeed on 1.43 (no notice).
 */
class RcEmitGoldenRecorderFeed extends RCFeed {
	/** @var array */
	private $params;

	public function __construct( array $params ) {
		$this->params = $params;
	}

	public function notify( RecentChange $rc, $actionComment = null ) {
		$lb = MediaWiki\MediaWikiServices::getInstance()->getDBLoadBalancer();
		$dbs = [ $lb->getConnection( DB_PRIMARY ), $lb->getConnection( DB_REPLICA ) ];
		$debug = [];
		foreach ( $dbs as $i => $db ) {
			$debug[$i] = $db->getFlag( DBO_DEBUG );
			$db->setFlag( DBO_DEBUG );
		}
		$log = $this->params['query_log'];
		clearstatcache( true, $log );
		$logSize = is_file( $log ) ? filesize( $log ) : 0;
		$defaultParts = PayloadBuilder::PART_API_PARAMS | PayloadBuilder::PART_REDIRECT;
		$services = MediaWikiServices::getInstance();
		$tags = $services->getService( 'RcEmit.TagCache' )
			->get( (int)$rc->getAttribute( 'rc_id' ) );
		$start = hrtime( true );
		PayloadBuilder::build( $services, $rc, $actionComment, $tags, $defaultParts );
		$micros = ( hrtime( true ) - $start ) / 1000;
		foreach ( $dbs as $i => $db ) {
			if ( !$debug[$i] ) {
				$db->clearFlag( DBO_DEBUG );
			}
		}
		clearstatcache( true, $log );
		$queried = is_file( $log ) && preg_match( '/ \[[0-9.]+m?s\] [^\n]*: /',
			(string)file_get_contents( $log, false, null, $logSize ) ) === 1;
		// Again, now that the classes are loaded and compiled: the steady-state cost.
		$start = hrtime( true );
		PayloadBuilder::build( $services, $rc, $actionComment, $tags, $defaultParts );
		$warmMicros = ( hrtime( true ) - $start ) / 1000;
		// Every part but MediaWiki's own URLs, which the library computes unless a hook may change them.
		$payload = PayloadBuilder::build( $services, $rc, $actionComment, $tags,
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
			json_encode( $record, JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES ) . "\n",
			FILE_APPEND | LOCK_EX );
		$sock = socket_create( AF_INET, SOCK_DGRAM, SOL_UDP );
		foreach ( $this->params['mark_ports'] as $port ) {
			socket_sendto( $sock, "RCEMIT-MARK $rcId", strlen( "RCEMIT-MARK $rcId" ), 0, '127.0.0.1', $port );
		}
		socket_close( $sock );
		return true;
	}
}
