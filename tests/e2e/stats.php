<?php
/**
 * Served by the end-to-end test's `php -S` beside api.php (tests/e2e/e2e.py links it into the docroot): waits
 * until this web process's rcemit queue is sent (rcemit_flush, at most `timeout` ms), then prints how the library
 * was loaded and its counters as JSON. Counters are per process; `php -S` is one process, so these are the
 * counters of every change made through the web SAPI.
 *
 * @license GPL-2.0-or-later
 */

use MediaWiki\Extension\RcEmit\RcEmitFeed;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;

require '/usr/share/mediawiki/includes/WebStart.php';

header( 'Content-Type: application/json' );
$emitter = RcEmitFeed::emitter();
$library = $emitter->library();
$out = [
	'sapi' => PHP_SAPI,
	'ffi.enable' => ini_get( 'ffi.enable' ),
	'ffi.preload' => ini_get( 'ffi.preload' ),
	'opcache.preload' => ini_get( 'opcache.preload' ),
];
if ( !$library ) {
	$out['error'] = $emitter->lastWarning();
} else {
	$code = $library->flush( min( 10000, (int)( $_GET['timeout'] ?? 3000 ) ) );
	$out += [
		'mode' => $library->mode(),
		'library' => $library->libraryPath(),
		'version' => $library->version(),
		'flushed' => $code === RcEmitLibrary::RESULT_OK,
		'stats' => $library->stats(),
	];
}
echo json_encode( $out ), "\n";
