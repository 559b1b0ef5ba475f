<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

/**
 * The change tags of the recent changes saved in this request, in the order api.php lists them: filled by
 * TagCapture while RecentChange::save() applies the tags, read by RcEmitFeed when the feeds are notified right
 * after. The service "RcEmit.TagCache" (ServiceWiring.php).
 *
 * Memory is bounded: it keeps the tags of the last MAX_ENTRIES changes.
 */
final class TagCache {
	/** Changes remembered; a request rarely saves more than a handful of changes. */
	public const MAX_ENTRIES = 32;

	/** @var array<int,string[]> rc_id => tag names in the API's order */
	private $tagsByRc = [];

	/**
	 * Records the tags of a change, evicting the oldest entry beyond MAX_ENTRIES.
	 *
	 * @param int $rcId
	 * @param string[] $tags In the API's order
	 */
	public function remember( int $rcId, array $tags ): void {
		unset( $this->tagsByRc[$rcId] );
		$this->tagsByRc[$rcId] = $tags;
		if ( count( $this->tagsByRc ) > self::MAX_ENTRIES ) {
			unset( $this->tagsByRc[array_key_first( $this->tagsByRc )] );
		}
	}

	/**
	 * The tags of a recent change, in the order api.php lists them; [] when none were seen.
	 *
	 * @param int $rcId
	 * @return string[]
	 */
	public function get( int $rcId ): array {
		return $this->tagsByRc[$rcId] ?? [];
	}
}
