//! The keywords OpenSSH's client knows. A keyword outside this list is an
//! error, as it is for `ssh` (unless `IgnoreUnknown` names it); a keyword in
//! it that roadie does not act on is accepted and skipped.

/// Every keyword of OpenSSH 9.2's ssh_config (as Debian builds it, with its
/// GSSAPI key exchange patches), deprecated and unsupported ones included
/// (ssh skips those silently), lowercased. Found by asking `ssh -G` about
/// each name its binary holds.
const OPENSSH_9_2: &[&str] = &[
    "addkeystoagent",
    "addressfamily",
    "afstokenpassing",
    "batchmode",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "challengeresponseauthentication",
    "checkhostip",
    "cipher",
    "ciphers",
    "clearallforwardings",
    "compression",
    "compressionlevel",
    "connectionattempts",
    "connecttimeout",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dsaauthentication",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fallbacktorsh",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardagent",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "globalknownhostsfile",
    "globalknownhostsfile2",
    "gssapiauthentication",
    "gssapiclientidentity",
    "gssapidelegatecredentials",
    "gssapikexalgorithms",
    "gssapikeyexchange",
    "gssapirenewalforcesrekey",
    "gssapiserveridentity",
    "gssapitrustdns",
    "hashknownhosts",
    "host",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "hostkeyalgorithms",
    "hostkeyalias",
    "hostname",
    "identitiesonly",
    "identityagent",
    "identityfile",
    "identityfile2",
    "ignoreunknown",
    "include",
    "ipqos",
    "kbdinteractiveauthentication",
    "kbdinteractivedevices",
    "kerberosauthentication",
    "kerberostgtpassing",
    "kexalgorithms",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "loglevel",
    "logverbose",
    "macs",
    "match",
    "nohostauthenticationforlocalhost",
    "numberofpasswordprompts",
    "passwordauthentication",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "port",
    "preferredauthentications",
    "protocol",
    "protocolkeepalives",
    "proxycommand",
    "proxyjump",
    "proxyusefdpass",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "rhostsauthentication",
    "rhostsrsaauthentication",
    "securitykeyprovider",
    "sendenv",
    "serveralivecountmax",
    "serveraliveinterval",
    "sessiontype",
    "setenv",
    "setuptimeout",
    "skeyauthentication",
    "smartcarddevice",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "stricthostkeychecking",
    "syslogfacility",
    "tcpkeepalive",
    "tisauthentication",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "useblacklistedkeys",
    "useprivilegedport",
    "user",
    "userknownhostsfile",
    "userknownhostsfile2",
    "useroaming",
    "usersh",
    "verifyhostkeydns",
    "visualhostkey",
    "xauthlocation",
];

/// Client keywords added by later OpenSSH releases, so that a config written
/// for a newer ssh still reads: `Tag` (9.4, which roadie uses),
/// `ObscureKeystrokeTiming` (9.5), `ChannelTimeout` (9.7),
/// `RefuseConnection` (10.0), `WarnWeakCrypto` (10.1).
const LATER: &[&str] = &[
    "tag",
    "obscurekeystroketiming",
    "channeltimeout",
    "refuseconnection",
    "warnweakcrypto",
];

/// Whether `keyword` (lowercased) is an OpenSSH client keyword.
pub(super) fn is_known(keyword: &str) -> bool {
    OPENSSH_9_2.contains(&keyword) || LATER.contains(&keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_not_keywords() {
        assert!(is_known("identityfile"));
        assert!(is_known("useroaming"));
        assert!(is_known("tag"));
        assert!(!is_known("identityfle"));
        assert!(!is_known("\u{feff}host"));
    }
}
