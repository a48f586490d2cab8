<?php
// What Nextcloud's user_ldap does with PHP's LDAP functions, as a script: bind as the service,
// list the users page by page (paged results control, RFC 2696), find one by entryUUID (the
// key Nextcloud stores for each LDAP user), then log them in (bind as their DN).
//
// Settings from the environment:
//   LDAP_URI            ldaps://ldap.example.org:636 (or ldap://… with LDAP_STARTTLS=1)
//   LDAP_STARTTLS       1: StartTLS before the bind
//   LDAP_CA_FILE        piratenldap's CA (GET /ca/cert.pem), for ldaps:// and StartTLS
//   LDAP_BIND_DN        cn=nextcloud,ou=services,BASE
//   LDAP_BIND_PASSWORD  the password `piratenldap service add nextcloud` printed
//   LDAP_BASE_USERS     ou=people,BASE
//   LDAP_PAGE_SIZE      entries per page (Nextcloud: "ldapPagingSize", default 500)
//   LOGIN_USER          uid of the member who logs in
//   LOGIN_PASSWORD      their password (or app password)
// Prints key: value lines; exit status 0 when the login succeeded, 1 when it was refused,
// 2 on any other error.

function setting(string $name, ?string $default = null): string {
    $value = getenv($name);
    if ($value === false || $value === '') {
        if ($default === null) {
            fwrite(STDERR, "$name is not set\n");
            exit(2);
        }
        return $default;
    }
    return $value;
}

function fail(string $what, $ldap = null): never {
    fwrite(STDERR, $what . ($ldap ? ': ' . ldap_error($ldap) : '') . "\n");
    exit(2);
}

function connect(): LDAP\Connection {
    $ca = getenv('LDAP_CA_FILE');
    if ($ca) {
        ldap_set_option(null, LDAP_OPT_X_TLS_CACERTFILE, $ca);
        ldap_set_option(null, LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_DEMAND);
    }
    $ldap = ldap_connect(setting('LDAP_URI'));
    if ($ldap === false) {
        fail('bad LDAP_URI');
    }
    ldap_set_option($ldap, LDAP_OPT_PROTOCOL_VERSION, 3);
    ldap_set_option($ldap, LDAP_OPT_REFERRALS, 0);
    ldap_set_option($ldap, LDAP_OPT_NETWORK_TIMEOUT, 10);
    if (getenv('LDAP_STARTTLS') === '1' && !ldap_start_tls($ldap)) {
        fail('StartTLS', $ldap);
    }
    return $ldap;
}

// Nextcloud's user filter and the attributes it reads (displayName, mail, the UUID, groups).
const USER_FILTER = '(&(objectClass=inetOrgPerson))';
const USER_ATTRS = ['dn', 'uid', 'displayname', 'mail', 'entryuuid', 'memberof'];

$base = setting('LDAP_BASE_USERS');
$login = setting('LOGIN_USER');
$ldap = connect();
if (!@ldap_bind($ldap, setting('LDAP_BIND_DN'), setting('LDAP_BIND_PASSWORD'))) {
    fail('service bind', $ldap);
}

// 1. The user list, page by page (Nextcloud's Access::fetchListOfUsers with paging).
$size = (int) setting('LDAP_PAGE_SIZE', '500');
$cookie = '';
$pages = 0;
$users = [];
do {
    $result = @ldap_search($ldap, $base, USER_FILTER, USER_ATTRS, 0, 0, 0, LDAP_DEREF_NEVER,
        [['oid' => LDAP_CONTROL_PAGEDRESULTS, 'value' => ['size' => $size, 'cookie' => $cookie]]]);
    if ($result === false) {
        fail('paged search', $ldap);
    }
    if (!ldap_parse_result($ldap, $result, $code, $matched, $message, $referrals, $controls) || $code !== 0) {
        fail("paged search result $code $message");
    }
    $entries = ldap_get_entries($ldap, $result);
    if ($entries['count'] > $size) {
        fail("a page of {$entries['count']} entries, more than $size");
    }
    for ($i = 0; $i < $entries['count']; $i++) {
        $uid = $entries[$i]['uid'][0];
        $users[$uid] = $entries[$i]['entryuuid'][0] ?? null;
    }
    $pages++;
    $cookie = $controls[LDAP_CONTROL_PAGEDRESULTS]['value']['cookie'] ?? '';
} while ($cookie !== '' && $pages < 10000);
echo "pages: $pages\n";
echo 'users: ' . count($users) . "\n";
if (!isset($users[$login]) || $users[$login] === null) {
    fail("$login is not in the list or has no entryUUID");
}
$uuid = $users[$login];
echo "entryuuid: $uuid\n";

// 2. The user by UUID (Nextcloud's Access::getUserDnByUuid).
$filter = '(&' . USER_FILTER . '(entryUUID=' . ldap_escape($uuid, '', LDAP_ESCAPE_FILTER) . '))';
$result = @ldap_search($ldap, $base, $filter, USER_ATTRS);
if ($result === false) {
    fail('search by entryUUID', $ldap);
}
$entries = ldap_get_entries($ldap, $result);
if ($entries['count'] !== 1) {
    fail("{$entries['count']} entries with entryUUID $uuid");
}
$dn = $entries[0]['dn'];
echo "dn: $dn\n";
echo 'displayname: ' . ($entries[0]['displayname'][0] ?? '') . "\n";
echo 'mail: ' . ($entries[0]['mail'][0] ?? '') . "\n";
ldap_unbind($ldap);

// 3. The login: a bind as the user's DN on a connection of its own (Nextcloud's
// Access::areCredentialsValid).
$user = connect();
if (@ldap_bind($user, $dn, setting('LOGIN_PASSWORD'))) {
    echo "login: ok\n";
    exit(0);
}
ldap_get_option($user, LDAP_OPT_ERROR_NUMBER, $error);
echo "login: refused ($error " . ldap_err2str($error) . ")\n";
exit($error === 49 ? 1 : 2);
