<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use ApiBase;
use MediaWiki\MediaWikiServices;
use Throwable;

/**
 * action=rcemitstatus: what RcEmit looks like from inside the web worker that answers, for admins (right
 * `rcemit-status`, given to sysops by default). rcemitStatus.php shows the CLI's own process, which may load
 * another library or none at all; this shows the web's: whether RcEmit is on, why not, how PHP reached the
 * library (load mode, path, version), the php.ini lines that decide it, and this worker's counters.
 *
 *     api.php?action=rcemitstatus&format=json
 *
 * Counters are per PHP process (one PHP-FPM or mod_php worker, since it started), not per wiki.
 */
class ApiRcEmitStatus extends ApiBase {
	public function execute() {
		$this->checkUserRightsAny( 'rcemit-status' );
		$this->getResult()->addValue( null, $this->getModuleName(), self::status() );
	}

	/**
	 * The status of this process (also used by rcemitStatus.php).
	 *
	 * @return array
	 */
	public static function status(): array {
		$config = MediaWikiServices::getInstance()->getMainConfig();
		$repo = dirname( __DIR__, 2 );
		$configured = ( $config->has( 'RcEmitLibraryPath' ) ? $config->get( 'RcEmitLibraryPath' ) : null )
			?? "$repo/target/release/librcemit.so";
		$emitter = RcEmitFeed::emitter();
		$library = $emitter->library();
		$status = [
			'enabled' => $library !== null,
			'disabled_reason' => $library ? null : $emitter->lastWarning(),
			'sapi' => PHP_SAPI,
			'pid' => getmypid(),
			'php_version' => PHP_VERSION,
			'configured_library' => $configured,
			'ini' => [
				'ffi.enable' => (string)ini_get( 'ffi.enable' ),
				'ffi.preload' => (string)ini_get( 'ffi.preload' ),
				'opcache.enable' => (string)ini_get( 'opcache.enable' ),
				'opcache.preload' => (string)ini_get( 'opcache.preload' ),
				'opcache.preload_user' => (string)ini_get( 'opcache.preload_user' ),
			],
			'wrapper_preloaded' => self::wrapperPreloaded(),
		];
		if ( $library ) {
			$status += [
				'mode' => $library->mode(),
				'library' => $library->libraryPath(),
				'library_matches_configured' => self::sameFile( $library->libraryPath(), $configured ),
				'version' => $library->version(),
				'payload_version' => RcEmitLibrary::PAYLOAD_VERSION,
			];
			try {
				$status['stats'] = $library->stats();
			} catch ( Throwable $e ) {
				$status['stats_error'] = $e->getMessage();
			}
		}
		$feeds = [];
		foreach ( $config->get( 'RCFeeds' ) as $name => $params ) {
			if ( is_array( $params ) && ( $params['class'] ?? null ) === RcEmitFeed::class ) {
				$feeds[] = [ 'name' => (string)$name, 'uri' => (string)( $params['uri'] ?? '' ),
					'format' => (string)( $params['format'] ?? $params['formatter'] ?? 'xmlrc' ) ];
			}
		}
		$status['feeds'] = $feeds;
		$status['warnings'] = $emitter->warnings();
		return $status;
	}

	/** @return bool|null Whether opcache.preload compiled RcEmitLibrary (null: opcache does not say) */
	private static function wrapperPreloaded(): ?bool {
		if ( !function_exists( 'opcache_get_status' ) ) {
			return null;
		}
		$opcache = @opcache_get_status( false );
		if ( !is_array( $opcache ) ) {
			return null;
		}
		return in_array( RcEmitLibrary::class, $opcache['preload_statistics']['classes'] ?? [], true );
	}

	private static function sameFile( string $a, string $b ): bool {
		return $a === $b || ( realpath( $a ) !== false && realpath( $a ) === realpath( $b ) );
	}

	/** @inheritDoc */
	public function isInternal() {
		return false;
	}

	/** @inheritDoc */
	protected function getExamplesMessages() {
		return [ 'action=rcemitstatus' => 'apihelp-rcemitstatus-example-1' ];
	}
}
