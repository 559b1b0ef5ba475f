<?php
/**
 * RcEmit's services (extension.json ServiceWiringFiles).
 *
 * @license GPL-2.0-or-later
 */

use MediaWiki\Extension\RcEmit\Emitter;
use MediaWiki\Extension\RcEmit\TagCache;
use MediaWiki\Logger\LoggerFactory;
use MediaWiki\MediaWikiServices;

return [
	// The process's emitter: the library, loaded on first use, and the feeds opened with it, configured from
	// $wgRcEmitLibraryPath / $wgRcEmitHeaderPath (default: the build of the rcemit checkout php/ belongs to, with
	// its comment-free header, which FFI::cdef() parses in half the time).
	'RcEmit.Emitter' => static function ( MediaWikiServices $services ): Emitter {
		$config = $services->getMainConfig();
		$repo = dirname( __DIR__, 2 );
		return new Emitter(
			$config->get( 'RcEmitLibraryPath' ) ?? "$repo/target/release/librcemit.so",
			$config->get( 'RcEmitHeaderPath' ) ?? "$repo/include/rcemit-ffi.h",
			LoggerFactory::getInstance( 'rcemit' )
		);
	},

	'RcEmit.TagCache' => static function (): TagCache {
		return new TagCache();
	},
];
