<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use CommentStoreComment;
use LogFormatter;
use MediaWiki\MediaWikiServices;
use RecentChange;
use Title;
use Throwable;

/**
 * Turns a RecentChange into rcemit's payload v1 (layout: src/payload.rs in the rcemit crate).
 *
 * Runs inside the save request, so the edit path is one pack() call over attributes RecentChange::save() has
 * already set: no JSON, no database query, no message formatting. Where each field comes from (MW 1.39):
 * - ints: rc_id (set by save() after the insert), rc_type, rc_namespace, rc_cur_id, rc_this_oldid,
 *   rc_last_oldid, rc_user (0 for IP users: the API's `anon`), rc_old_len/rc_new_len (NULL flagged, as save()
 *   normalises them to int|null), rc_logid, rc_patrolled.
 * - timestamp: rc_timestamp, which callers set as TS_MW (converted only if it is not).
 * - title: $rc->getTitle()->getPrefixedText(), as core's packets and the API print it.
 * - user: rc_user_text; comment: rc_comment as given to the RecentChange (core's json/xml packets use it).
 * - redirect (page_is_redirect after the change, the API's `redirect`): see isRedirect().
 * - tags: from TagCapture, filled by the ChangeTagsAfterUpdateTags hook during save() (no query).
 * - log rows only: rc_log_type, rc_log_action, the IRC action comment given to notify(), the raw params as
 *   MachineReadableRCFeedFormatter builds them, and (when asked) LogFormatter::formatParametersForApi() as the
 *   API's `logparams`, both json_encode'd with JSON_INVALID_UTF8_SUBSTITUTE.
 * sha1 and parsedcomment are not sent (flags clear): they need a revision lookup and the parser.
 */
class PayloadBuilder {
	private const RC_LOG = 3;
	private const RC_CATEGORIZE = 6;

	private const FLAG_BOT = 1;
	private const FLAG_MINOR = 2;
	private const FLAG_REDIRECT = 4;
	private const FLAG_OLD_LEN_NULL = 8;
	private const FLAG_NEW_LEN_NULL = 16;

	private const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE
		| JSON_PARTIAL_OUTPUT_ON_ERROR;

	/**
	 * @param RecentChange $rc The change, after RecentChange::save() inserted it
	 * @param string|null $actionComment The IRC action comment core passes to RCFeed::notify()
	 * @param bool $withApiParams Also compute the API form of log params (needed by the xmlrc format only)
	 * @return string The payload bytes
	 */
	public static function build( RecentChange $rc, $actionComment, bool $withApiParams ): string {
		// Every read tolerates a missing key: a change published to feeds only (ManualLogEntry::publish( $id,
		// 'udp' ), e.g. the patrol log) never went through save() and has no rc_id.
		$a = $rc->getAttributes();
		$rcId = (int)( $a['rc_id'] ?? 0 );
		$type = (int)( $a['rc_type'] ?? 0 );
		$pageId = (int)( $a['rc_cur_id'] ?? 0 );
		$title = $rc->getTitle();
		$flags = ( ( $a['rc_bot'] ?? 0 ) ? self::FLAG_BOT : 0 )
			| ( ( $a['rc_minor'] ?? 0 ) ? self::FLAG_MINOR : 0 )
			| ( self::isRedirect( $title, $type ) ? self::FLAG_REDIRECT : 0 )
			| ( ( $a['rc_old_len'] ?? null ) === null ? self::FLAG_OLD_LEN_NULL : 0 )
			| ( ( $a['rc_new_len'] ?? null ) === null ? self::FLAG_NEW_LEN_NULL : 0 );

		$timestamp = (string)( $a['rc_timestamp'] ?? '' );
		if ( strlen( $timestamp ) !== 14 || !ctype_digit( $timestamp ) ) {
			$timestamp = (string)wfTimestamp( TS_MW, $timestamp );
		}
		$comment = $a['rc_comment'] ?? '';
		if ( $comment instanceof CommentStoreComment ) {
			$comment = $comment->text;
		}
		$comment = (string)$comment;
		$titleText = $title->getPrefixedText();
		$user = (string)( $a['rc_user_text'] ?? '' );

		$tagList = '';
		foreach ( TagCapture::get( $rcId ) as $tag ) {
			$tagList .= pack( 'V', strlen( $tag ) ) . $tag;
		}

		if ( $type === self::RC_LOG ) {
			$logType = (string)( $a['rc_log_type'] ?? '' );
			$logAction = (string)( $a['rc_log_action'] ?? '' );
			$actionComment = (string)$actionComment;
			$paramsRaw = self::rawLogParams( $rc );
			$paramsApi = $withApiParams ? self::apiLogParams( $a ) : '';
		} else {
			$logType = $logAction = $actionComment = $paramsRaw = $paramsApi = '';
		}

		return pack( 'a4P12Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*Va*',
			"RCE\x01",
			$rcId, $type, (int)( $a['rc_namespace'] ?? 0 ), $pageId,
			(int)( $a['rc_this_oldid'] ?? 0 ), (int)( $a['rc_last_oldid'] ?? 0 ), (int)( $a['rc_user'] ?? 0 ),
			(int)( $a['rc_old_len'] ?? 0 ), (int)( $a['rc_new_len'] ?? 0 ), (int)( $a['rc_logid'] ?? 0 ),
			(int)( $a['rc_patrolled'] ?? 0 ), $flags,
			strlen( $timestamp ), $timestamp,
			strlen( $titleText ), $titleText,
			strlen( $user ), $user,
			strlen( $comment ), $comment,
			strlen( $logType ), $logType,
			strlen( $logAction ), $logAction,
			strlen( $actionComment ), $actionComment,
			strlen( $paramsRaw ), $paramsRaw,
			strlen( $paramsApi ), $paramsApi,
			strlen( $tagList ), $tagList,
			0, '',
			0, ''
		);
	}

	/**
	 * The API's `redirect`: page_is_redirect of the page now at the change's title (ApiQueryRecentChanges
	 * LEFT JOINs page ON rc_namespace/rc_title, not on rc_cur_id), read right after the change.
	 *
	 * First the page's row in the LinkCache, looked up by namespace and DB key: MediaWiki updates it on edits
	 * (WikiPage::updateRevisionOn() has just stored the new row) and invalidates it on deletion, and every
	 * PageStore lookup below reads the same row first, so a hit gives the same answer without the cost of
	 * Title::isRedirect()/canExist()/PageStore on a Title the change has just created (together 5 to 50 µs,
	 * most of an RcEmit notify). On a miss:
	 * - edits and page creations: Title::isRedirect(), from memory after the save (no query; the golden run
	 *   checks this);
	 * - log and categorisation rows: the title's cached state can be stale (a deleted page still answers from
	 *   the Title object the log entry holds), so the page is looked up by name through PageStore: a known
	 *   missing page from the LinkCache, else one indexed page query. Titles that cannot exist (Special:) are
	 *   never redirects.
	 */
	private static function isRedirect( Title $title, int $type ): bool {
		$namespace = $title->getNamespace();
		$dbKey = $title->getDBkey();
		if ( $namespace >= 0 && $dbKey !== '' && !$title->isExternal() ) {
			// The array form skips the TitleValue's validation, which the Title has done already.
			$cached = MediaWikiServices::getInstance()->getLinkCache()->getGoodLinkFieldObj(
				[ 'page_namespace' => $namespace, 'page_title' => $dbKey ], 'redirect' );
			if ( $cached !== null ) {
				return (bool)$cached;
			}
		}
		if ( $type !== self::RC_LOG && $type !== self::RC_CATEGORIZE ) {
			return $title->isRedirect();
		}
		if ( !$title->canExist() ) {
			return false;
		}
		try {
			$page = MediaWikiServices::getInstance()->getPageStore()
				->getPageByName( $title->getNamespace(), $title->getDBkey() );
		} catch ( Throwable $e ) {
			return false;
		}
		return $page !== null && $page->isRedirect();
	}

	/**
	 * The `log_params` of core's json/xml packets (MachineReadableRCFeedFormatter::getLine), JSON-encoded;
	 * '' when core leaves the key out (empty rc_params).
	 */
	private static function rawLogParams( RecentChange $rc ): string {
		$rcParams = $rc->getAttribute( 'rc_params' );
		if ( !$rcParams ) {
			return '';
		}
		$params = $rc->parseParams();
		if ( $rcParams == serialize( false ) || $params !== false ) {
			$logParams = [];
			// Core iterates whatever unserialize() returned; a scalar yields nothing.
			if ( is_array( $params ) || is_object( $params ) ) {
				foreach ( $params as $key => $value ) {
					if ( strpos( (string)$key, ':' ) === false ) {
						$logParams[$key] = $value;
						continue;
					}
					$logParam = explode( ':', $key, 3 );
					$logParams[$logParam[2] ?? ''] = $value;
				}
			}
		} else {
			$logParams = explode( "\n", $rcParams );
		}
		return (string)json_encode( $logParams, self::JSON_FLAGS );
	}

	/**
	 * The API's `logparams` (ApiQueryRecentChanges::extractRowInfo), with ApiResult metadata keys kept;
	 * '' if the formatter fails, so a broken log type never breaks the edit.
	 *
	 * @param array $attribs RecentChange attributes (an rc row, as LogFormatter::newFromRow() accepts)
	 */
	private static function apiLogParams( array $attribs ): string {
		try {
			$params = LogFormatter::newFromRow( $attribs )->formatParametersForApi();
		} catch ( Throwable $e ) {
			return '';
		}
		return (string)json_encode( $params, self::JSON_FLAGS );
	}
}
