<?php
/**
 * Times one RCFeed::notify() per change for core's UDP feeds and for RcEmitFeed, side by side in one process
 * (goals: README "Performance"). Run it inside a throwaway wiki (scripts/bench.sh does):
 *
 *     MW_CONFIG_FILE=DIR/LocalSettings.php php scripts/benchmarkFeeds.php [--runs=2000] [--gap-us=500] \
 *         [--samples=FILE] [--quantiles=FILE] [--summary=FILE]
 *
 * What one sample is: `RCFeed::factory( $params )->notify( $rc, $actionComment )` for every feed of the row,
 * in sequence, as RecentChange::notifyRCFeeds() does (the factory call included: core constructs a feed per
 * change), timed with hrtime(). Rows run interleaved: every round takes each row once, in a shuffled order,
 * so machine noise hits all rows alike.
 *
 * As a wiki worker pays it (the default, --gap-us=500): the process sleeps --gap-us before every sample, as a
 * PHP worker idles between saves, so caches cool down and rcemit's sender thread is asleep and must be woken.
 * With --gap-us=0 samples run back to back (each round starts with rcemit_flush() instead), which keeps
 * every cache warm and gives lower, less realistic figures.
 *
 * Fairness:
 * - Each sample gets its own RecentChange (RecentChange::newFromRow() of the change's row, made before the
 *   clock starts), so RcEmitFeed's per-change payload cache never carries over from another sample: each
 *   sample is one change. It holds what a saving request hands it, for every row alike: an edit's page is
 *   the WikiPage this script saved it with (PageUpdater hands notifyEdit() its WikiPage), a log row's is
 *   the very Title object MediaWiki's code handed the RecentChange when this script made the change (the log
 *   entry's target, captured with the RecentChange_save hook: a protection's or upload's with its page row
 *   loaded, a move's the clone of the old title), with its text computed (ManualLogEntry::getRecentChange()
 *   formats the IRC action comment from it first), and getPerformerIdentity() is resolved; the page row is in the
 *   process's LinkCache, as WikiPage::updateRevisionOn() leaves it during a save (this script made the
 *   changes itself, and the warm-up rounds read them).
 * - Log rows: 'log' is a protection; 'log move', 'log block', ... one change of each kind whose API log
 *   params differ, each made here by MediaWiki's own code.
 * - Each round starts with rcemit_flush(), which waits until rcemit's sender thread is idle. Within a round
 *   the sender needs a few µs per event while the other rows take far longer, so an RcEmit notify normally
 *   finds the sender asleep and pays for waking it, as in a wiki where edits are far apart. (A flush before
 *   every sample would be closer still, but costs milliseconds on a busy machine.)
 * - Every feed of every row sends to the same loopback port that nobody reads; the hostname rows send to a
 *   name that does not resolve (core looks it up on every notify, so that row runs fewer times).
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Maintenance;

use Closure;
use ContentHandler;
use DatabaseLogEntry;
use IRCColourfulRCFeedFormatter;
use JSONRCFeedFormatter;
use Maintenance;
use MediaWiki\Extension\RcEmit\MediaWikiCompat;
use MediaWiki\Extension\RcEmit\RcEmitFeed;
use MediaWiki\MediaWikiServices;
use MediaWiki\Page\PageReference;
use MWFileProps;
use RCFeed;
use RecentChange;
use RequestContext;
use StatusValue;
use Title;
use User;
use WikiPage;
use XMLRCFeedFormatter;

$IP = getenv( 'MW_INSTALL_PATH' );
if ( $IP === false ) {
	$IP = is_file( '/usr/share/mediawiki/maintenance/Maintenance.php' )
		? '/usr/share/mediawiki' : __DIR__ . '/../../../..';
}
require_once "$IP/maintenance/Maintenance.php";

class BenchmarkFeeds extends Maintenance {
	/** @var WikiPage The edited page, as the saving request holds it */
	private $page;
	/** @var array<int,mixed> By rc_id: RecentChange::getPage() when the change was saved (RecentChange_save) */
	private $handed = [];

	/** Unresolvable by definition (RFC 2606), so no answer can ever make the hostname rows cheap. */
	private const BAD_HOST = 'rcemit-bench.invalid';

	public function __construct() {
		parent::__construct();
		$this->requireExtension( 'RcEmit' );
		$this->addDescription( 'Times RCFeed::notify() of core\'s XML, JSON and IRC feeds and of RcEmitFeed in ' .
			'each format, for an edit and a log entry, interleaved in one process. Makes one edit and one ' .
			'protection in the wiki first: run it in a throwaway wiki.' );
		$this->addOption( 'runs', 'Samples per row (default 2000)', false, true );
		$this->addOption( 'gap-us', 'Idle time before every sample, in µs, as between the saves of a wiki ' .
			'worker (default 500; 0: back to back)', false, true );
		$this->addOption( 'host-runs', 'Samples of core\'s hostname row, which resolves the name on every ' .
			'notify (default 1000)', false, true );
		$this->addOption( 'warmup', 'Untimed rounds first (default 200)', false, true );
		$this->addOption( 'port', 'Loopback UDP port nobody reads (default: one free now)', false, true );
		$this->addOption( 'samples', 'Write every sample (row TAB nanoseconds) to this file', false, true );
		$this->addOption( 'quantiles', 'Write each row\'s latency quantiles (gnuplot blocks) to this file',
			false, true );
		$this->addOption( 'summary', 'Write the table and the machine as JSON to this file', false, true );
	}

	public function execute() {
		$runs = max( 1, (int)$this->getOption( 'runs', 2000 ) );
		$gapUs = max( 0, (int)$this->getOption( 'gap-us', 500 ) );
		$hostRuns = min( $runs, max( 1, (int)$this->getOption( 'host-runs', 1000 ) ) );
		$port = (int)( $this->getOption( 'port' ) ?? self::deadPort() );
		// As in a web request, whatever the SAPI running this script.
		RcEmitFeed::wakeAfterResponse( true );
		$library = RcEmitFeed::emitter()->library();
		if ( !$library ) {
			$this->fatalError( 'rcemit is unusable: ' . RcEmitFeed::emitter()->lastWarning() );
		}

		$changes = $this->makeChanges();
		$rows = self::rows( "udp://127.0.0.1:$port", 'udp://' . self::BAD_HOST . ":$port" );
		$this->output( sprintf( "%d rows, %d samples each (core hostname row: %d), %s, destination " .
			"127.0.0.1:%d\n", count( $rows ), $runs, $hostRuns,
			$gapUs ? "$gapUs µs idle before each sample" : 'back to back', $port ) );

		$warmup = (int)$this->getOption( 'warmup', 200 );
		$this->measure( $rows, $changes, $library, $warmup, min( $warmup, 10 ), $gapUs );
		$before = $library->stats();
		[ $samples, $after ] = $this->measure( $rows, $changes, $library, $runs, $hostRuns, $gapUs );
		$library->flush( 5000 );
		$stats = $library->stats();

		$table = self::table( $rows, $samples, $after );
		$this->output( self::render( $table ) );
		$this->output( sprintf( "rcemit during the timed rounds: enqueued %d, sent %d, send_errors %d, " .
			"unresolved %d, dropped_queue_full %d\n",
			$stats['enqueued'] - $before['enqueued'], $stats['sent'] - $before['sent'],
			$stats['send_errors'] - $before['send_errors'], $stats['unresolved'] - $before['unresolved'],
			$stats['dropped_queue_full'] - $before['dropped_queue_full'] ) );

		if ( $this->hasOption( 'samples' ) ) {
			$out = fopen( $this->getOption( 'samples' ), 'w' );
			foreach ( $samples as $name => $list ) {
				fwrite( $out, $name . "\t" . implode( "\n$name\t", $list ) . "\n" );
			}
			fclose( $out );
		}
		if ( $this->hasOption( 'quantiles' ) ) {
			file_put_contents( $this->getOption( 'quantiles' ), self::quantiles( $samples ) );
		}
		if ( $this->hasOption( 'summary' ) ) {
			file_put_contents( $this->getOption( 'summary' ), json_encode( [
				'date' => gmdate( 'Y-m-d\TH:i:s\Z' ),
				'machine' => self::machine(),
				'runs' => $runs,
				'host_runs' => $hostRuns,
				'gap_us' => $gapUs,
				'rows' => $table,
				'rcemit_stats' => array_map( static function ( $after, $was ) {
					return $after - $was;
				}, $stats, $before ),
			], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES ) . "\n" );
		}
	}

	/**
	 * The changes the rows notify about, each made here by MediaWiki itself, so that this process holds the
	 * pages in its LinkCache as a saving request does: an edit, then one log row of each kind whose API log
	 * params differ (protect, move, block, delete, upload, rights; kind 'log' is the protection).
	 *
	 * @return array<string,array{row:object,comment:?string}> By kind
	 */
	private function makeChanges(): array {
		$services = MediaWikiServices::getInstance();
		// What each saving request hands RecentChange as its page, as notifyRCFeeds() will see it.
		$services->getHookContainer()->register( 'RecentChange_save', function ( RecentChange $rc ): void {
			$this->handed[(int)$rc->getAttribute( 'rc_id' )] = $rc->getPage();
		} );
		$user = User::newSystemUser( 'RcEmit benchmark', [ 'steal' => true ] );
		$services->getUserGroupManager()->addUserToGroup( $user, 'bureaucrat' );
		$title = Title::newFromText( 'Zürich Hauptbahnhof' );
		$page = $services->getWikiPageFactory()->newFromTitle( $title );
		$summaries = [ 'Start page', '/* History */ fix link to [[Swiss Federal Railways]] & add "ref"' ];
		foreach ( $summaries as $i => $summary ) {
			// Different text on every save (a save of the same text is a null edit, with no recent change).
			$text = "'''Zürich Hauptbahnhof''' is the largest railway station in Switzerland.\n" .
				str_repeat( "More.\n", $i + 1 ) . mt_rand();
			$this->check( 'edit', $page->doUserEditContent( ContentHandler::makeContent( $text, $title ), $user,
				$summary ) );
		}
		// What a saving request hands RecentChange::notifyEdit(): PageUpdater's WikiPage, just updated.
		$this->page = $page;
		$changes = [ 'edit' => $this->change( RC_EDIT, null ) ];

		$cascade = false;
		$this->check( 'protect', $page->doUpdateRestrictions( [ 'edit' => 'sysop', 'move' => 'sysop' ],
			[ 'edit' => 'infinity', 'move' => '20300101000000' ], $cascade, 'Persistent vandalism', $user ) );
		$changes['log'] = $this->change( RC_LOG, 'protect' );

		$suffix = mt_rand();
		$factory = $services->getWikiPageFactory();
		$from = Title::newFromText( "Bahnhof Enge $suffix" );
		$this->check( 'move source', $factory->newFromTitle( $from )->doUserEditContent(
			ContentHandler::makeContent( 'Station.', $from ), $user, 'new' ) );
		$this->check( 'move', $services->getMovePageFactory()
			->newMovePage( $from, Title::newFromText( "Zürich Enge $suffix" ) )->move( $user, 'Official name' ) );
		$changes['move'] = $this->change( RC_LOG, 'move' );

		$this->check( 'block', $services->getBlockUserFactory()->newBlockUser( '192.0.2.' . mt_rand( 1, 254 ),
			$user, '1 week', 'Vandalism', [ 'isCreateAccountBlocked' => true ] )->placeBlockUnsafe() );
		$changes['block'] = $this->change( RC_LOG, 'block' );

		$doomed = $factory->newFromTitle( Title::newFromText( "Gleis 55 $suffix" ) );
		$this->check( 'delete source', $doomed->doUserEditContent(
			ContentHandler::makeContent( 'Never built.', $doomed->getTitle() ), $user, 'new' ) );
		$this->check( 'delete', $services->getDeletePageFactory()->newDeletePage( $doomed, $user )
			->deleteUnsafe( 'Hoax' ) );
		$changes['delete'] = $this->change( RC_LOG, 'delete' );

		$png = tempnam( wfTempDir(), 'rcemit-bench' );
		file_put_contents( $png, self::png() );
		$file = $services->getRepoGroup()->getLocalRepo()->newFile( "Station $suffix.png" );
		$props = ( new MWFileProps( $services->getMimeAnalyzer() ) )->getPropsFromPath( $png, true );
		$this->check( 'upload', $file->upload( $png, 'Photo of the hall', 'A photo.', 0, $props, false, $user ) );
		unlink( $png );
		$changes['upload'] = $this->change( RC_LOG, 'upload' );

		// Special:UserRights' own method, run by a bureaucrat.
		$target = User::newSystemUser( "RcEmit admin $suffix", [ 'steal' => true ] );
		RequestContext::getMain()->setUser( $user );
		$rights = $services->getSpecialPageFactory()->getPage( 'Userrights' );
		$rights->setContext( RequestContext::getMain() );
		$rights->doSaveUserGroups( $target, [ 'sysop' ], [], 'Elected' );
		$changes['rights'] = $this->change( RC_LOG, 'rights' );
		return $changes;
	}

	/**
	 * @param string $what
	 * @param StatusValue $status
	 */
	private function check( string $what, $status ): void {
		if ( !$status->isOK() ) {
			$this->fatalError( "$what failed: " . $status );
		}
	}

	/**
	 * The newest recentchanges row of a type (and log type), and for a log row what a saving request hands
	 * RecentChange: the IRC action comment (mExtra['actionCommentIRC']) and the log entry's target Title as
	 * RecentChange_save saw it, whose text computing that comment has computed
	 * (ManualLogEntry::getRecentChange()).
	 *
	 * @return array{row:object,comment:?string,page:?Title}
	 */
	private function change( int $type, ?string $logType ): array {
		$dbr = $this->getDB( DB_PRIMARY );
		$query = RecentChange::getQueryInfo();
		$conds = [ 'rc_type' => $type ] + ( $logType ? [ 'rc_log_type' => $logType ] : [] );
		$row = $dbr->selectRow( $query['tables'], $query['fields'], $conds, __METHOD__,
			[ 'ORDER BY' => 'rc_id DESC' ], $query['joins'] );
		if ( !$row ) {
			$this->fatalError( 'no ' . ( $logType ?? 'edit' ) . ' row in recentchanges' );
		}
		$comment = $target = null;
		if ( $type === RC_LOG ) {
			$entry = DatabaseLogEntry::newFromId( (int)$row->rc_logid, $dbr );
			$comment = MediaWikiCompat::logFormatterFromEntry( $entry )->getIRCActionComment();
			$target = $this->handed[(int)$row->rc_id] ?? null;
			if ( !$target instanceof Title ) {
				$this->fatalError( "the $logType row's page was not handed over as a Title" );
			}
			$target->getPrefixedText();
		}
		return [ 'row' => $row, 'comment' => $comment, 'page' => $target ];
	}

	/** A 4x3 grey PNG (no image file in the repository). */
	private static function png(): string {
		$chunk = static function ( string $kind, string $data ): string {
			return pack( 'N', strlen( $data ) ) . $kind . $data . pack( 'N', crc32( $kind . $data ) );
		};
		return "\x89PNG\r\n\x1a\n" . $chunk( 'IHDR', pack( 'NNCCCCC', 4, 3, 8, 0, 0, 0, 0 ) ) .
			$chunk( 'IDAT', gzcompress( str_repeat( "\0" . str_repeat( "\x80", 4 ), 3 ) ) ) . $chunk( 'IEND', '' );
	}

	/**
	 * The rows: name => [kind, reference row for "x core XML", reference row of the same format, feeds, and
	 * optionally true: RcEmit wakes its sender on every change instead of after the response].
	 *
	 * @return array<string,array{0:string,1:string,2:?string,3:array[],4?:bool}>
	 */
	private static function rows( string $uri, string $badUri ): array {
		$core = static function ( string $formatter, string $uri ): array {
			return [ 'uri' => $uri, 'formatter' => $formatter, 'add_interwiki_prefix' => false ];
		};
		$rcemit = static function ( string $format, string $uri ): array {
			return [ 'class' => RcEmitFeed::class, 'uri' => $uri, 'format' => $format,
				'add_interwiki_prefix' => false ];
		};
		$rows = [];
		foreach ( [ 'edit', 'log' ] as $kind ) {
			$coreXml = "core xml $kind";
			$rows += [
				$coreXml => [ $kind, $coreXml, null, [ $core( XMLRCFeedFormatter::class, $uri ) ] ],
				"core json $kind" => [ $kind, $coreXml, null, [ $core( JSONRCFeedFormatter::class, $uri ) ] ],
				"core irc $kind" => [ $kind, $coreXml, null, [ $core( IRCColourfulRCFeedFormatter::class, $uri ) ] ],
				"rcemit xmlrc $kind" => [ $kind, $coreXml, $coreXml, [ $rcemit( 'xmlrc', $uri ) ] ],
				"rcemit json $kind" => [ $kind, $coreXml, "core json $kind", [ $rcemit( 'json', $uri ) ] ],
				"rcemit xml $kind" => [ $kind, $coreXml, $coreXml, [ $rcemit( 'xml', $uri ) ] ],
				"rcemit irc $kind" => [ $kind, $coreXml, "core irc $kind", [ $rcemit( 'irc', $uri ) ] ],
				"core 3 feeds $kind" => [ $kind, $coreXml, null, [ $core( XMLRCFeedFormatter::class, $uri ),
					$core( JSONRCFeedFormatter::class, $uri ), $core( IRCColourfulRCFeedFormatter::class, $uri ) ] ],
				"rcemit 3 feeds $kind" => [ $kind, $coreXml, "core 3 feeds $kind", [ $rcemit( 'xmlrc', $uri ),
					$rcemit( 'json', $uri ), $rcemit( 'irc', $uri ) ] ],
			];
		}
		// One row per log type whose API log params differ ('log' above is the protection).
		foreach ( [ 'move', 'block', 'delete', 'upload', 'rights' ] as $kind ) {
			$coreXml = "core xml log $kind";
			$rows += [
				$coreXml => [ $kind, $coreXml, null, [ $core( XMLRCFeedFormatter::class, $uri ) ] ],
				"rcemit xmlrc log $kind" => [ $kind, $coreXml, $coreXml, [ $rcemit( 'xmlrc', $uri ) ] ],
				"rcemit json log $kind" => [ $kind, $coreXml, $coreXml, [ $rcemit( 'json', $uri ) ] ],
			];
		}
		// The same feed woken on every change (the CLI's way, and every SAPI's before 0.2): what waking the
		// sender costs on the request path.
		foreach ( [ 'edit', 'log' ] as $kind ) {
			$rows["rcemit xmlrc $kind, woken"] = [ $kind, "core xml $kind", "rcemit xmlrc $kind",
				[ $rcemit( 'xmlrc', $uri ) ], true ];
		}
		$rows['core xml edit, hostname'] = [ 'edit', 'core xml edit', 'core xml edit',
			[ $core( XMLRCFeedFormatter::class, $badUri ) ] ];
		$rows['rcemit xmlrc edit, hostname'] = [ 'edit', 'core xml edit', 'rcemit xmlrc edit',
			[ $rcemit( 'xmlrc', $badUri ) ] ];
		foreach ( $rows as &$row ) {
			foreach ( $row[3] as &$params ) {
				// What notifyRCFeeds() adds before RCFeed::factory().
				$params += [ 'omit_bots' => false, 'omit_anon' => false, 'omit_user' => false,
					'omit_minor' => false, 'omit_patrolled' => false ];
			}
		}
		return $rows;
	}

	/**
	 * Runs $runs interleaved rounds; the core hostname row takes part in $hostRuns of them, spread evenly.
	 * With $gapUs, every sample follows that much idle time; without, every round starts with a flush.
	 * RcEmit runs as in a web request: notify() queues, and the sender is woken once after the response;
	 * that wake-up is timed on its own, as work the worker does after the response.
	 *
	 * @return array{0:array<string,int[]>,1:array<string,int[]>} Nanoseconds per sample by row: before the
	 *  response (the notify() calls), after it (the wake-up; 0 for core's rows)
	 */
	private function measure( array $rows, array $changes, $library, int $runs, int $hostRuns, int $gapUs
	): array {
		// RecentChange::notifyEdit() and newLogEntry() set the private mPage to the page they are handed.
		$setPage = Closure::bind( static function ( RecentChange $rc, PageReference $page ): void {
			$rc->mPage = $page;
		}, null, RecentChange::class );
		$samples = array_fill_keys( array_keys( $rows ), [] );
		$after = $samples;
		$names = array_keys( $rows );
		$hostEvery = $runs / max( 1, $hostRuns );
		$nextHost = 0.0;
		for ( $round = 0; $round < $runs; $round++ ) {
			shuffle( $names );
			if ( !$gapUs ) {
				$library->flush( 1000 );
			}
			$withHost = $round >= $nextHost;
			if ( $withHost ) {
				$nextHost += $hostEvery;
			}
			foreach ( $names as $name ) {
				if ( $name === 'core xml edit, hostname' && !$withHost ) {
					continue;
				}
				[ $kind, , , $feeds ] = $rows[$name];
				$woken = $rows[$name][4] ?? false;
				RcEmitFeed::wakeAfterResponse( !$woken );
				$rc = RecentChange::newFromRow( $changes[$kind]['row'] );
				$setPage( $rc, $changes[$kind]['page'] ?? $this->page );
				$rc->getPerformerIdentity();
				$actionComment = $changes[$kind]['comment'];
				if ( $gapUs ) {
					usleep( $gapUs );
				}

				$start = hrtime( true );
				foreach ( $feeds as $params ) {
					RCFeed::factory( $params )->notify( $rc, $actionComment );
				}
				$samples[$name][] = hrtime( true ) - $start;
				$start = hrtime( true );
				if ( strpos( $name, 'rcemit' ) === 0 && !$woken ) {
					RcEmitFeed::wakeSender();
				}
				$after[$name][] = hrtime( true ) - $start;
			}
		}
		return [ $samples, $after ];
	}

	/**
	 * @param array[] $rows
	 * @param array<string,int[]> $samples Before the response, by row
	 * @param array<string,int[]> $after After the response, by row (same order)
	 * @return array<string,array> By row: runs, median_us, p99_us, after_us (median after the response),
	 *  total_us (median of before + after), x_core_xml and x_reference (of the medians before the response),
	 *  total_x_core_xml, reference names
	 */
	private static function table( array $rows, array $samples, array $after ): array {
		$medians = [];
		$totals = [];
		$table = [];
		foreach ( $samples as $name => $list ) {
			$total = array_map( static function ( $a, $b ) {
				return $a + $b;
			}, $list, $after[$name] );
			$post = $after[$name];
			sort( $list );
			sort( $total );
			sort( $post );
			$medians[$name] = self::percentile( $list, 0.5 );
			$totals[$name] = self::percentile( $total, 0.5 );
			$table[$name] = [
				'runs' => count( $list ),
				'median_us' => round( $medians[$name] / 1000, 2 ),
				'p99_us' => round( self::percentile( $list, 0.99 ) / 1000, 2 ),
				'after_us' => round( self::percentile( $post, 0.5 ) / 1000, 2 ),
				'total_us' => round( $totals[$name] / 1000, 2 ),
			];
		}
		foreach ( $rows as $name => [ , $coreXml, $same ] ) {
			$table[$name]['x_core_xml'] = round( $medians[$name] / $medians[$coreXml], 3 );
			$table[$name]['total_x_core_xml'] = round( $totals[$name] / $totals[$coreXml], 3 );
			$table[$name]['x_reference'] = $same === null ? null : round( $medians[$name] / $medians[$same], 3 );
			$table[$name]['reference'] = $same;
		}
		return $table;
	}

	private static function percentile( array $sorted, float $p ): float {
		return (float)$sorted[(int)round( ( count( $sorted ) - 1 ) * $p )];
	}

	private static function render( array $table ): string {
		$out = "Before the response: the notify() calls; after: the sender's wake-up (rcemit rows only).\n";
		$out .= sprintf( "%-28s %6s %11s %9s %10s %10s %10s %10s  %s\n", 'row', 'runs', 'median µs', 'p99 µs',
			'×core xml', 'after µs', 'total µs', 'total ×', '× reference (before)' );
		foreach ( $table as $name => $r ) {
			$out .= sprintf( "%-28s %6d %10.2f %9.2f %10.3f %10.2f %10.2f %10.3f  %s\n", $name, $r['runs'],
				$r['median_us'], $r['p99_us'], $r['x_core_xml'], $r['after_us'], $r['total_us'],
				$r['total_x_core_xml'],
				$r['reference'] === null ? '' : sprintf( '%.3f (%s)', $r['x_reference'], $r['reference'] ) );
		}
		return $out;
	}

	/**
	 * Quantiles 0.5 %, 1 %, ... 99.5 %, then 99.9 % and the maximum, as gnuplot data blocks named by a
	 * comment `# [row]` (select one with `index '[core xml edit]'`).
	 */
	private static function quantiles( array $samples ): string {
		$levels = range( 0.005, 0.995, 0.005 );
		$levels[] = 0.999;
		$out = "# Per-notify latency quantiles by row: microseconds TAB quantile\n\n\n";
		foreach ( $samples as $name => $list ) {
			sort( $list );
			$out .= "# [$name]\n";
			foreach ( $levels as $q ) {
				$out .= sprintf( "%.3f\t%.3f\n", self::percentile( $list, $q ) / 1000, $q );
			}
			$out .= sprintf( "%.3f\t1\n\n\n", end( $list ) / 1000 );
		}
		return $out;
	}

	/** A UDP port on 127.0.0.1 that was free a moment ago and that nobody reads. */
	private static function deadPort(): int {
		$socket = socket_create( AF_INET, SOCK_DGRAM, SOL_UDP );
		socket_bind( $socket, '127.0.0.1', 0 );
		socket_getsockname( $socket, $addr, $port );
		socket_close( $socket );
		return $port;
	}

	/** The facts a reader needs to compare figures across machines. */
	private static function machine(): array {
		$cpu = 'unknown';
		foreach ( file( '/proc/cpuinfo' ) ?: [] as $line ) {
			if ( strpos( $line, 'model name' ) === 0 ) {
				$cpu = trim( explode( ':', $line, 2 )[1] );
				break;
			}
		}
		return [
			'cpu' => $cpu,
			'nproc' => (int)trim( (string)shell_exec( 'nproc' ) ),
			'loadavg' => trim( (string)@file_get_contents( '/proc/loadavg' ) ),
			'php' => PHP_VERSION,
			'opcache' => (bool)ini_get( 'opcache.enable_cli' ),
			'mediawiki' => MW_VERSION,
			'rcemit' => RcEmitFeed::emitter()->library()->version(),
		];
	}
}

$maintClass = BenchmarkFeeds::class;
require_once RUN_MAINTENANCE_IF_MAIN;
