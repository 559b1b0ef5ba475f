//! Per-feed facts about the wiki that formatters need, given once when a feed opens (never per event).

/// Properties of the API's `rcprop` that the `xmlrc` format can emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlrcProps {
    pub user: bool,
    pub userid: bool,
    pub comment: bool,
    pub parsedcomment: bool,
    pub flags: bool,
    pub timestamp: bool,
    pub title: bool,
    pub ids: bool,
    pub sizes: bool,
    pub redirect: bool,
    pub patrolled: bool,
    pub loginfo: bool,
    pub tags: bool,
    pub sha1: bool,
}

/// XMLRC's default: `user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags`.
pub const XMLRC_DEFAULT_PROPS: &str =
    "user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags";

impl XmlrcProps {
    const NONE: Self = Self {
        user: false,
        userid: false,
        comment: false,
        parsedcomment: false,
        flags: false,
        timestamp: false,
        title: false,
        ids: false,
        sizes: false,
        redirect: false,
        patrolled: false,
        loginfo: false,
        tags: false,
        sha1: false,
    };

    /// Parses an API-style `a|b|c` list. Unknown names are an error naming the first one.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut props = Self::NONE;
        for name in list.split('|').map(str::trim).filter(|n| !n.is_empty()) {
            let slot = match name {
                "user" => &mut props.user,
                "userid" => &mut props.userid,
                "comment" => &mut props.comment,
                "parsedcomment" => &mut props.parsedcomment,
                "flags" => &mut props.flags,
                "timestamp" => &mut props.timestamp,
                "title" => &mut props.title,
                "ids" => &mut props.ids,
                "sizes" => &mut props.sizes,
                "redirect" => &mut props.redirect,
                "patrolled" => &mut props.patrolled,
                "loginfo" => &mut props.loginfo,
                "tags" => &mut props.tags,
                "sha1" => &mut props.sha1,
                other => return Err(format!("unknown xmlrc property \"{other}\"")),
            };
            *slot = true;
        }
        Ok(props)
    }
}

impl Default for XmlrcProps {
    fn default() -> Self {
        Self::parse(XMLRC_DEFAULT_PROPS).expect("default property list is valid")
    }
}

/// The layout of core's machine-readable packet (`json`, `xml`), which depends on the MediaWiki version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketLayout {
    /// MediaWiki 1.39 and 1.40.
    #[default]
    Mw139,
    /// MediaWiki 1.41 and later: `title_url` after `title`, `notify_url` after `bot`.
    Mw141,
}

impl PacketLayout {
    /// Reads the feed config's `packet_layout` (`"1.39"` or `"1.41"`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "1.39" => Some(Self::Mw139),
            "1.41" => Some(Self::Mw141),
            _ => None,
        }
    }
}

/// What a feed knows about its wiki and its own options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedContext {
    /// `$wgCanonicalServer`, e.g. `https://en.wikipedia.org`.
    pub canonical_server: String,
    /// `$wgServerName`.
    pub server_name: String,
    /// `$wgScriptPath` as configured (may be empty; the json/xml packet then says `/`).
    pub script_path: String,
    /// `$wgScript`, e.g. `/w/index.php`.
    pub script: String,
    /// `$wgArticlePath`, e.g. `/wiki/$1` (`title_url` is this with `$1` replaced, expanded to the canonical
    /// server).
    pub article_path: String,
    /// With `$wgMainPageIsDomainRoot`: the main page's prefixed text, whose `title_url` is the server's root.
    pub main_page_at_root: Option<String>,
    /// Which packet core's `json`/`xml` formatters build on this wiki's MediaWiki version.
    pub packet_layout: PacketLayout,
    /// `WikiMap::getCurrentWikiId()`.
    pub wiki_id: String,
    /// The content language's name of the Special namespace (`Special`, `Spezial`, ...).
    pub special_namespace: String,
    /// `$wgUseRCPatrol`.
    pub use_rc_patrol: bool,
    /// `$wgUseNPPatrol`.
    pub use_np_patrol: bool,
    /// The IRC interwiki prefix, already resolved from the feed's `add_interwiki_prefix`
    /// (`true` means `$wgLocalInterwikis[0]`); `None` for no prefix.
    pub irc_interwiki_prefix: Option<String>,
    /// The feed's `channel` option, added to json/xml packets.
    pub channel: Option<String>,
    /// The `xmlrc` property set.
    pub xmlrc_props: XmlrcProps,
}
