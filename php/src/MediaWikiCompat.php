<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use LogEntry;
use LogFormatter;
use MediaWiki\MediaWikiServices;
use Wikimedia\Rdbms\IDatabase;

/**
 * The few MediaWiki calls whose spelling differs between the supported versions (1.39 and 1.43): each method
 * uses the current API where it exists and the 1.39 one otherwise, so RcEmit triggers no deprecation notice
 * on either version.
 */
final class MediaWikiCompat {
	/** @return bool Whether core's feed packets carry title_url and notify_url (MediaWiki 1.41 and later) */
	public static function packetHasUrls(): bool {
		return version_compare( MW_VERSION, '1.41', '>=' );
	}

	/**
	 * A LogFormatter for a recentchanges row (LogFormatterFactory since 1.42; LogFormatter::newFromRow is
	 * hard-deprecated in 1.43).
	 *
	 * @param array $row RecentChange attributes
	 * @return LogFormatter
	 */
	public static function logFormatterFromRow( array $row ): LogFormatter {
		$services = MediaWikiServices::getInstance();
		if ( method_exists( $services, 'getLogFormatterFactory' ) ) {
			return $services->getLogFormatterFactory()->newFromRow( $row );
		}
		return LogFormatter::newFromRow( $row );
	}

	/**
	 * @param LogEntry $entry
	 * @return LogFormatter
	 */
	public static function logFormatterFromEntry( LogEntry $entry ): LogFormatter {
		$services = MediaWikiServices::getInstance();
		if ( method_exists( $services, 'getLogFormatterFactory' ) ) {
			return $services->getLogFormatterFactory()->newFromEntry( $entry );
		}
		return LogFormatter::newFromEntry( $entry );
	}

	/**
	 * The primary database (IConnectionProvider where it exists; wfGetDB and getConnectionRef are deprecated).
	 *
	 * @return IDatabase
	 */
	public static function primaryDatabase() {
		$services = MediaWikiServices::getInstance();
		if ( method_exists( $services, 'getConnectionProvider' ) ) {
			return $services->getConnectionProvider()->getPrimaryDatabase();
		}
		return $services->getDBLoadBalancer()->getConnection( DB_PRIMARY );
	}

	/**
	 * A replica database, as primaryDatabase() (no return type: 1.43 gives an IReadableDatabase, which 1.39
	 * does not know).
	 *
	 * @return IDatabase
	 */
	public static function replicaDatabase() {
		$services = MediaWikiServices::getInstance();
		if ( method_exists( $services, 'getConnectionProvider' ) ) {
			return $services->getConnectionProvider()->getReplicaDatabase();
		}
		return $services->getDBLoadBalancer()->getConnection( DB_REPLICA );
	}
}
