<?php
/**
 * opcache.preload script for RcEmit's production setup (ffi.enable=preload): compiles the FFI wrapper, and
 * nothing else, so that its calls to FFI::scope() are allowed. php.ini:
 *
 *     opcache.preload=/opt/rcemit/php/preload.php
 *     opcache.preload_user=www-data        ; required when PHP starts as root
 *     ffi.preload=/opt/rcemit/rcemit-preload.h
 *
 * @license GPL-2.0-or-later
 */

opcache_compile_file( __DIR__ . '/src/RcEmitException.php' );
opcache_compile_file( __DIR__ . '/src/RcEmitLibrary.php' );
