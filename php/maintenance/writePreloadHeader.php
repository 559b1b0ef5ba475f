<?php
/**
 * Writes the header php.ini's ffi.preload names in the production setup (ffi.enable=preload).
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
		$this->addDescription( 'Writes the header php.ini\'s ffi.preload names in the production setup: FFI_SCOPE ' .
			'and the absolute FFI_LIB path, then the declarations of include/rcemit.h.' );
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
