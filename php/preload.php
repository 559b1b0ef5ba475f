<?php
/**
 * opcache.preload script for RcEmit's production setup (ffi.enable=preload). php.ini of the web SAPI:
 *
 *     ffi.enable=preload
 *     opcache.enable=1
 *     opcache.preload=/usr/share/mediawiki-extensions/RcEmit/preload.php
 *     opcache.preload_user=www-data        ; required when PHP starts as root (Apache, PHP-FPM)
 *
 * It compiles the FFI wrapper and nothing else, so that the wrapper may call the FFI API (FFI::cdef) in
 * requests. It loads no library and no header: whatever state the rcemit files are in, PHP starts and the wiki
 * serves; a broken library only disables RcEmit (one line on the `rcemit` log channel).
 *
 * PHP refuses to start when this script throws or when the file opcache.preload names does not exist, so this
 * script never throws and checks every file it compiles; keep it (and the php.ini line naming it) out of build
 * trees: `make install` puts it in /usr/share/mediawiki-extensions/RcEmit/.
 *
 * A site that already has an opcache.preload script requires this one from it instead.
 *
 * @license GPL-2.0-or-later
 */

foreach ( [ 'RcEmitException', 'RcEmitLibrary' ] as $rcemitClass ) {
	$rcemitFile = __DIR__ . "/src/$rcemitClass.php";
	try {
		if ( is_file( $rcemitFile ) && is_readable( $rcemitFile ) ) {
			opcache_compile_file( $rcemitFile );
		} else {
			error_log( "RcEmit preload: $rcemitFile is missing or unreadable; RcEmit stays off in web requests " .
				'(the wiki is not affected).' );
		}
	} catch ( Throwable $rcemitError ) {
		error_log( "RcEmit preload: could not compile $rcemitFile: " . $rcemitError->getMessage() );
	}
}
unset( $rcemitClass, $rcemitFile, $rcemitError );
