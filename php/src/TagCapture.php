<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use MediaWiki\ChangeTags\Hook\ChangeTagsAfterUpdateTagsHook;

/**
 * Hook handler that remembers the change tags of recent changes as they are applied (in the TagCache service),
 * so feeds can send them without a query.
 *
 * RecentChange has no tags getter in MediaWiki 1.39. RecentChange::save() inserts the row, then applies the
 * revert tags and the tags given to RecentChange::addTags() through ChangeTags::addTags() -> updateTags(), which
 * runs the ChangeTagsAfterUpdateTags hook, and only then calls notifyRCFeeds(). So by the time a feed's
 * notify() runs, this handler has seen every tag of the change.
 *
 * Registered in extension.json (HookHandlers "TagCapture", services RcEmit.TagCache and ChangeTagDefStore).
 *
 * Order: the API lists a change's tags from GROUP_CONCAT(ctd_name) over change_tag joined to change_tag_def
 * without ORDER BY; the database walks the unique index (ct_rc_id, ct_tag_id), so tags come in ascending
 * change_tag_def id order (the order in which each tag was first used on the wiki), not in the order they
 * were added. The cache gets that order, using ids from the ChangeTagDefStore's in-process map, which
 * updateTags() has just loaded to acquire them (no query).
 */
class TagCapture implements ChangeTagsAfterUpdateTagsHook {
	/** @var TagCache */
	private $cache;
	/** @var object The ChangeTagDefStore service (a NameTableStore; its class moved between versions) */
	private $changeTagDefStore;

	/**
	 * @param TagCache $cache
	 * @param object $changeTagDefStore
	 */
	public function __construct( TagCache $cache, $changeTagDefStore ) {
		$this->cache = $cache;
		$this->changeTagDefStore = $changeTagDefStore;
	}

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
		$this->cache->remember( (int)$rc_id, $this->inApiOrder( $tags ) );
	}

	/**
	 * Sorts tag names by their change_tag_def id, as the API's GROUP_CONCAT returns them.
	 *
	 * @param string[] $tags
	 * @return string[]
	 */
	private function inApiOrder( array $tags ): array {
		if ( count( $tags ) < 2 ) {
			return $tags;
		}
		$ids = [];
		foreach ( $tags as $tag ) {
			try {
				$ids[$tag] = $this->changeTagDefStore->getId( $tag );
			} catch ( \Exception $e ) {
				// Unknown to the store (removed meanwhile): keep it, after the known ones.
				$ids[$tag] = PHP_INT_MAX;
			}
		}
		asort( $ids );
		return array_map( 'strval', array_keys( $ids ) );
	}
}
