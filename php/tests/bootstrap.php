<?php
/**
 * Loads what the wrapper tests need without MediaWiki: the two standalone classes, Emitter and PSR-3 (from
 * Debian's mediawiki package), and the test support.
 *
 * @license GPL-2.0-or-later
 */

$psr = '/usr/share/mediawiki/vendor/psr/log/Psr/Log';
foreach ( [ 'LoggerInterface', 'LoggerTrait', 'AbstractLogger', 'LogLevel' ] as $class ) {
	require_once "$psr/$class.php";
}
require_once __DIR__ . '/../src/RcEmitException.php';
require_once __DIR__ . '/../src/RcEmitLibrary.php';
require_once __DIR__ . '/../src/Emitter.php';
require_once __DIR__ . '/TestSupport.php';
