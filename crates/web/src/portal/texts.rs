//! The portal's words, German (the default) and English.

use piratenldap_auth::activation::Problem;

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// German.
    De,
    /// English.
    En,
}

impl Lang {
    /// `?lang=` / form value, else the first Accept-Language preference, else German.
    pub fn choose(explicit: Option<&str>, accept_language: Option<&str>) -> Lang {
        match explicit.map(str::to_ascii_lowercase).as_deref() {
            Some("en") => return Lang::En,
            Some("de") => return Lang::De,
            _ => {}
        }
        let first = accept_language
            .and_then(|h| h.split(',').next())
            .map(|l| l.trim().to_ascii_lowercase());
        match first {
            Some(l) if l.starts_with("en") => Lang::En,
            _ => Lang::De,
        }
    }

    /// The code for links and hidden fields.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

/// All texts of one language.
pub struct Texts {
    pub title: &'static str,
    pub token_intro: &'static str,
    pub token_label: &'static str,
    pub next: &'static str,
    pub account_intro: &'static str,
    pub uid_label: &'static str,
    pub uid_hint: &'static str,
    pub name_label: &'static str,
    pub name_hint: &'static str,
    pub password_label: &'static str,
    pub password_again_label: &'static str,
    pub password_hint: &'static str,
    pub create: &'static str,
    pub totp_offer: &'static str,
    pub totp_yes: &'static str,
    pub totp_skip: &'static str,
    pub totp_scan: &'static str,
    pub totp_secret: &'static str,
    pub totp_code_label: &'static str,
    pub totp_confirm: &'static str,
    pub totp_wrong: &'static str,
    pub done_title: &'static str,
    pub done_dn: &'static str,
    pub done_what: &'static str,
    pub done_totp: &'static str,
    pub too_many: &'static str,
    pub bad_form: &'static str,
    pub expired_step: &'static str,
    pub other_lang: &'static str,
    pub reset_intro: &'static str,
    pub reset_second_factor: &'static str,
    pub reset_second_factor_hint: &'static str,
    pub reset_submit: &'static str,
    pub reset_done_what: &'static str,
}

/// The texts for a language.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &DE,
        Lang::En => &EN,
    }
}

/// The message for a problem.
pub fn problem(lang: Lang, p: &Problem) -> &'static str {
    match (lang, p) {
        (Lang::De, Problem::TokenTypo) => {
            "Der Schlüssel enthält einen Tippfehler (das Prüfzeichen passt nicht). Bitte vergleichen Sie ihn mit Ihrem Brief."
        }
        (Lang::De, Problem::TokenUnusable) => {
            "Dieser Schlüssel kann nicht verwendet werden: Er ist unbekannt, schon benutzt, widerrufen oder abgelaufen."
        }
        (Lang::De, Problem::UidSyntax) => {
            "3 bis 32 Zeichen: zuerst a–z, dann a–z, 0–9, Punkt, Unterstrich oder Bindestrich."
        }
        (Lang::De, Problem::UidReserved) => "Dieser Benutzername ist reserviert.",
        (Lang::De, Problem::UidTaken) => "Dieser Benutzername ist schon vergeben.",
        (Lang::De, Problem::DisplayName) => "Bitte 1 bis 64 Zeichen.",
        (Lang::De, Problem::PasswordWeak) => {
            "Das Passwort ist zu schwach: mindestens 10 Zeichen und nicht leicht zu erraten."
        }
        (Lang::De, Problem::PasswordMismatch) => "Die beiden Passwörter stimmen nicht überein.",
        (Lang::De, Problem::TokenIsReset) => {
            "Dieser Schlüssel stammt aus einem Brief zum Zurücksetzen: Er legt kein Konto an, sondern setzt das Passwort Ihres bestehenden Kontos neu. Geben Sie ihn hier oben ein."
        }
        (Lang::De, Problem::TokenIsActivation) => {
            "Dieser Schlüssel stammt aus einem Aktivierungsbrief: Er legt ein Konto an und setzt keines zurück."
        }
        (Lang::De, Problem::SecondFactorAdmin) => {
            "Bei Administratoren wird der zweite Faktor nicht per Brief zurückgesetzt (sie brauchen immer TOTP). Bitte wenden Sie sich an die Bundes-IT. Ihr Passwort ist unverändert."
        }
        (Lang::En, Problem::TokenTypo) => {
            "The key has a typo (its check character does not match). Please compare it with your letter."
        }
        (Lang::En, Problem::TokenUnusable) => {
            "This key cannot be used: it is unknown, already used, revoked or expired."
        }
        (Lang::En, Problem::UidSyntax) => "3 to 32 characters: a–z first, then a–z, 0–9, dot, underscore or hyphen.",
        (Lang::En, Problem::UidReserved) => "This user name is reserved.",
        (Lang::En, Problem::UidTaken) => "This user name is taken.",
        (Lang::En, Problem::DisplayName) => "Please use 1 to 64 characters.",
        (Lang::En, Problem::PasswordWeak) => "The password is too weak: at least 10 characters, and not easy to guess.",
        (Lang::En, Problem::PasswordMismatch) => "The two passwords differ.",
        (Lang::En, Problem::TokenIsReset) => {
            "This key is from a reset letter: it creates no account but sets a new password for your existing account. Enter it in the field above."
        }
        (Lang::En, Problem::TokenIsActivation) => {
            "This key is from an activation letter: it creates an account and resets none."
        }
        (Lang::En, Problem::SecondFactorAdmin) => {
            "An admin's second factor is not reset by letter (admins always need TOTP). Please contact the federal IT team. Your password is unchanged."
        }
    }
}

static DE: Texts = Texts {
    title: "Konto aktivieren",
    token_intro: "Geben Sie den persönlichen Schlüssel aus Ihrem Brief ein. Groß- und Kleinschreibung, Leerzeichen und Bindestriche spielen keine Rolle.",
    token_label: "Schlüssel",
    next: "Weiter",
    account_intro: "Ihr Schlüssel ist gültig. Wählen Sie nun Ihren Benutzernamen und Ihr Passwort.",
    uid_label: "Benutzername",
    uid_hint: "Kleinbuchstaben, 3 bis 32 Zeichen; damit melden Sie sich überall an.",
    name_label: "Anzeigename",
    name_hint: "So sehen andere Sie, z. B. im Wiki oder Forum. Ein Pseudonym ist in Ordnung.",
    password_label: "Passwort",
    password_again_label: "Passwort wiederholen",
    password_hint: "Mindestens 10 Zeichen; ein Satz aus mehreren Wörtern ist gut.",
    create: "Konto anlegen",
    totp_offer: "Ihr Konto ist angelegt. Möchten Sie einen zweiten Faktor (TOTP) mit einer Authenticator-App einrichten?",
    totp_yes: "TOTP einrichten",
    totp_skip: "Später",
    totp_scan: "Scannen Sie den QR-Code mit Ihrer Authenticator-App oder geben Sie den Schlüssel von Hand ein. Geben Sie dann den angezeigten Code ein.",
    totp_secret: "Schlüssel für die App",
    totp_code_label: "Code aus der App",
    totp_confirm: "TOTP einschalten",
    totp_wrong: "Dieser Code passt nicht. Prüfen Sie die Uhrzeit Ihres Geräts und geben Sie den aktuellen Code ein.",
    done_title: "Fertig",
    done_dn: "Ihr Konto",
    done_what: "Sie können sich jetzt mit Ihrem Benutzernamen und Passwort bei allen Diensten der Partei anmelden: Wiki, Forum, Mail, Jabber und Abstimmungen.",
    done_totp: "TOTP ist eingeschaltet: Hängen Sie beim Anmelden den aktuellen Code direkt an Ihr Passwort an. Für Mail- und Jabber-Programme erhalten Sie beim Helpdesk App-Passwörter.",
    too_many: "Zu viele Versuche von Ihrer Adresse. Bitte warten Sie eine Minute und versuchen Sie es dann erneut.",
    bad_form: "Das Formular ist abgelaufen oder kam nicht von dieser Seite. Bitte laden Sie die Seite neu.",
    expired_step: "Dieser Schritt ist abgelaufen. Ihr Konto ist angelegt; TOTP können Sie beim Helpdesk einrichten lassen.",
    other_lang: "English",
    reset_intro: "Ihr Schlüssel zum Zurücksetzen ist gültig. Wählen Sie ein neues Passwort für Ihr Konto. Danach sind Sie überall abgemeldet.",
    reset_second_factor: "Neuen zweiten Faktor (TOTP) einrichten",
    reset_second_factor_hint: "Wählen Sie das, wenn Sie Ihre Authenticator-App verloren haben: Der alte zweite Faktor gilt dann sofort nicht mehr, und Sie richten gleich einen neuen ein.",
    reset_submit: "Passwort setzen",
    reset_done_what: "Ihr neues Passwort gilt ab sofort bei allen Diensten der Partei. Alle bisherigen Anmeldungen sind beendet; melden Sie sich neu an. App-Passwörter für Mail- und Jabber-Programme gelten weiter.",
};

static EN: Texts = Texts {
    title: "Activate your account",
    token_intro: "Enter the personal key from your letter. Case, spaces and hyphens do not matter.",
    token_label: "Key",
    next: "Next",
    account_intro: "Your key is valid. Now choose your user name and password.",
    uid_label: "User name",
    uid_hint: "Lower case, 3 to 32 characters; you log in everywhere with it.",
    name_label: "Display name",
    name_hint: "How others see you, e.g. in the wiki or forum. A pseudonym is fine.",
    password_label: "Password",
    password_again_label: "Password again",
    password_hint: "At least 10 characters; a sentence of several words is good.",
    create: "Create account",
    totp_offer: "Your account is ready. Would you like to set up a second factor (TOTP) with an authenticator app?",
    totp_yes: "Set up TOTP",
    totp_skip: "Later",
    totp_scan: "Scan the QR code with your authenticator app or type the key by hand. Then enter the code it shows.",
    totp_secret: "Key for the app",
    totp_code_label: "Code from the app",
    totp_confirm: "Switch TOTP on",
    totp_wrong: "This code does not fit. Check your device's clock and enter the current code.",
    done_title: "Done",
    done_dn: "Your account",
    done_what: "You can now log in to every party service with your user name and password: wiki, forum, mail, Jabber and votes.",
    done_totp: "TOTP is on: when you log in, append the current code directly to your password. The helpdesk gives you app passwords for mail and Jabber programs.",
    too_many: "Too many attempts from your address. Please wait a minute and try again.",
    bad_form: "The form has expired or did not come from this page. Please reload the page.",
    expired_step: "This step has expired. Your account exists; the helpdesk can set up TOTP for you.",
    other_lang: "Deutsch",
    reset_intro: "Your reset key is valid. Choose a new password for your account. You will then be logged out everywhere.",
    reset_second_factor: "Set up a new second factor (TOTP)",
    reset_second_factor_hint: "Choose this if you lost your authenticator app: the old second factor stops working at once, and you set up a new one right away.",
    reset_submit: "Set password",
    reset_done_what: "Your new password works at once for every party service. Every earlier login has ended; please log in again. App passwords for mail and Jabber programs keep working.",
};
