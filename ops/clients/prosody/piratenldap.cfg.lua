-- Prosody 0.12 (Debian: prosody, lua-ldap): Jabber logins checked by piratenldap.
-- In /etc/prosody/prosody.cfg.lua, global section: Include "conf.d/piratenldap.cfg.lua"
-- (or copy these lines). Members sign in as <uid>@<your Jabber domain>.
--
-- mod_auth_ldap finds the member as the service, then binds as the member with the password
-- the client sent (ldap_mode "bind"): piratenldap checks, throttles and logs it. Only SASL
-- PLAIN (inside TLS: keep c2s_require_encryption = true in production). Members with TOTP use
-- an app password (piratenldap account app-password add UID --label Jabber).
authentication = "ldap"
ldap_server = "ldap.example.org:389"
-- StartTLS; the CA (GET /ca/cert.pem) in /etc/ldap/ldap.conf: TLS_CACERT /etc/ssl/piratenldap-ca.pem
ldap_tls = true
-- The service's bind account: piratenldap service add prosody --attrs uid
ldap_rootdn = "cn=prosody,ou=services,dc=example,dc=org"
ldap_password = "SERVICE-PASSWORD"
ldap_base = "ou=people,dc=example,dc=org"
ldap_scope = "onelevel"
ldap_filter = "(&(objectClass=inetOrgPerson)(uid=$user))"
ldap_mode = "bind"
