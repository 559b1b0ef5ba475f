<?php
/**
 * Legacy: writes a header for php.ini's ffi.preload (FFI_SCOPE "rcemit" and FFI_LIB).
 *
 * README's production recipe no longer uses ffi.preload: with it, PHP refuses to start (Apache with mod_php
 * exits, PHP-FPM exits 254, also on a graceful reload) as soon as the header or the library its FFI_LIB names is
 * missing, unreadable or from another build. Without it, opcache.preload compiles RcEmit's wrapper, which loads
 * the library in the request and only disables RcEmit when it cannot. This script stays for setups that keep
 * ffi.preload (it is a little cheaper per request) and accept that risk.
 *
 *     php php/maintenance/writePreloadHeader.php --out=/opt/rcemit/rcemit-preload.h
 *
 * The library path is $wgRcEmitLibraryPath (or --library); the declarations come from $wgRcEmitHeaderPath.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Maintenance;

use Maintenance;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;

$IP = getenv( 'MW_INSTALL_PATH' );
if ( $IP === false ) {
	$IP = is_file( '/usr/share/mediawiki/maintenance/Maintenance.php' )
		? '/usr/share/mediawiki' : __DIR__ . '/../../../..';
}
require_once "$IP/maintenance/Maintenance.php";

class WritePreloadHeader extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->requireExtension( 'RcEmit' );
		$this->addDescription( 'Legacy: writes a header for php.ini\'s ffi.preload (FFI_SCOPE and the absolute ' .
			'FFI_LIB path, then the declarations of include/rcemit.h). README\'s recipe does not need it: with ' .
			'ffi.preload, PHP does not start when that header or its library is missing.' );
		$this->addOption( 'out', 'File to write', true, true );
		$this->addOption( 'library', 'Absolute path of librcemit.so (default: $wgRcEmitLibraryPath)', false, true );
	}

	public function execute() {
		$repo = dirname( __DIR__, 2 );
		$library = $this->getOption( 'library' )
			?? $this->getConfig()->get( 'RcEmitLibraryPath' ) ?? "$repo/target/release/librcemit.so";
		$header = $this->getConfig()->get( 'RcEmitHeaderPath' ) ?? "$repo/include/rcemit.h";
		$real = realpath( $library );
		if ( $real === false ) {
			$this->fatalError( "The library $library does not exist; build it with `cargo build --release`." );
		}
		$text = @file_get_contents( $header );
		if ( $text === false ) {
			$this->fatalError( "Cannot read the C header $header." );
		}
		$out = $this->getOption( 'out' );
		if ( file_put_contents( $out, RcEmitLibrary::preloadHeader( $text, $real ) ) === false ) {
			$this->fatalError( "Cannot write $out." );
		}
		$this->output( wfMessage( 'rcemit-maint-preload-written', realpath( $out ), $real )->text() . "\n" );
	}
}

$maintClass = WritePreloadHeader::class;
require_once RUN_MAINTENANCE_IF_MAIN;
