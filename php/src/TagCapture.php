<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use MediaWiki\ChangeTags\Hook\ChangeTagsAfterUpdateTagsHook;
use MediaWiki\MediaWikiServices;

/**
 * Remembers the change tags of recent changes as they are applied, so feeds can send them without a query.
 *
 * RecentChange has no tags getter in MediaWiki 1.39. RecentChange::save() inserts the row, then applies the
 * revert tags and the tags given to RecentChange::addTags() through ChangeTags::addTags() -> updateTags(), which
 * runs the ChangeTagsAfterUpdateTags hook, and only then calls notifyRCFeeds(). So by the time a feed's
 * notify() runs, this class has seen every tag of the change.
 *
 * Register as a hook handler (extension.json):
 *   "HookHandlers": { "RcEmitTags": { "class": "MediaWiki\\Extension\\RcEmit\\TagCapture" } },
 *   "Hooks": { "ChangeTagsAfterUpdateTags": "RcEmitTags" }
 * or in LocalSettings.php:
 *   $wgHooks['ChangeTagsAfterUpdateTags'][] = [ new TagCapture(), 'onChangeTagsAfterUpdateTags' ];
 *
 * Order: the API lists a change's tags from GROUP_CONCAT(ctd_name) over change_tag joined to change_tag_def
 * without ORDER BY; the database walks the unique index (ct_rc_id, ct_tag_id), so tags come in ascending
 * change_tag_def id order (the order in which each tag was first used on the wiki), not in the order they
 * were added. get() returns that order, using ids from the ChangeTagDefStore's in-process map, which
 * updateTags() has just loaded to acquire them (no query).
 *
 * Memory is bounded: the map keeps the tags of the last MAX_ENTRIES changes of this request.
 */
class TagCapture implements ChangeTagsAfterUpdateTagsHook {
	/** Changes remembered per request; a request rarely saves more than a handful of changes. */
	public const MAX_ENTRIES = 32;

	/** @var array<int,string[]> rc_id => tag names in the API's order */
	private static $tagsByRc = [];

	/**
	 * Hook handler for ChangeTagsAfterUpdateTags (ChangeTags::updateTags()).
	 *
	 * @param string[] $addedTags Tags effectively added in the update
	 * @param string[] $removedTags Tags effectively removed in the update
	 * @param string[] $prevTags Tags that were present prior to the update
	 * @param int|null $rc_id Recent change id, if any
	 * @param int|null $rev_id Revision id, if any
	 * @param int|null $log_id Log id, if any
	 * @param string|null $params Tag params
	 * @param \RecentChange|null $rc Recent change being tagged, if any
	 * @param \User|null $user User who performed the tagging
	 * @return bool|void
	 */
	public function onChangeTagsAfterUpdateTags( $addedTags, $removedTags,
		$prevTags, $rc_id, $rev_id, $log_id, $params, $rc, $user
	) {
		if ( !$rc_id ) {
			return;
		}
		$tags = array_values( array_diff(
			array_unique( array_merge( (array)$prevTags, (array)$addedTags ) ),
			(array)$removedTags
		) );
		self::remember( (int)$rc_id, self::inApiOrder( $tags ) );
	}

	/**
	 * The tags of a recent change, in the order api.php lists them; [] when none were seen.
	 *
	 * @param int $rcId
	 * @return string[]
	 */
	public static function get( int $rcId ): array {
		return self::$tagsByRc[$rcId] ?? [];
	}

	/**
	 * Records the tags of a change, evicting the oldest entry beyond MAX_ENTRIES.
	 *
	 * @param int $rcId
	 * @param string[] $tags
	 */
	private static function remember( int $rcId, array $tags ): void {
		unset( self::$tagsByRc[$rcId] );
		self::$tagsByRc[$rcId] = $tags;
		if ( count( self::$tagsByRc ) > self::MAX_ENTRIES ) {
			unset( self::$tagsByRc[array_key_first( self::$tagsByRc )] );
		}
	}

	/**
	 * Sorts tag names by their change_tag_def id, as the API's GROUP_CONCAT returns them.
	 *
	 * @param string[] $tags
	 * @return string[]
	 */
	private static function inApiOrder( array $tags ): array {
		if ( count( $tags ) < 2 ) {
			return $tags;
		}
		$store = MediaWikiServices::getInstance()->getChangeTagDefStore();
		$ids = [];
		foreach ( $tags as $tag ) {
			try {
				$ids[$tag] = $store->getId( $tag );
			} catch ( \Exception $e ) {
				// Unknown to the store (removed meanwhile): keep it, after the known ones.
				$ids[$tag] = PHP_INT_MAX;
			}
		}
		asort( $ids );
		return array_map( 'strval', array_keys( $ids ) );
	}
}
