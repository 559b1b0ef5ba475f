<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use RuntimeException;

/**
 * Why the rcemit library could not be used. The message names the cause and the fix, written for a wiki
 * administrator reading a log. Standalone (no MediaWiki dependency) so that opcache.preload can compile it.
 */
class RcEmitException extends RuntimeException {
}
