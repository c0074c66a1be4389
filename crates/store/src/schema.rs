//! Diesel table definitions, kept by hand in step with `migrations/`.
#![allow(missing_docs)]

diesel::table! {
    accounts (account_id) {
        account_id -> Uuid,
        username -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        attributes -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
        external_id -> Nullable<Text>,
        legacy_subject -> Nullable<Text>,
    }
}

diesel::table! {
    devices (device_id) {
        device_id -> Uuid,
        account_id -> Uuid,
        device_type -> Text,
        credential_id -> Bytea,
        credential -> Jsonb,
        name -> Text,
        aaguid -> Nullable<Uuid>,
        sign_count -> Int8,
        backup_eligible -> Bool,
        backup_state -> Bool,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        public_jwk -> Jsonb,
        private_key_ciphertext -> Bytea,
        created_at -> Timestamptz,
        activates_at -> Timestamptz,
        retires_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    config_versions (version) {
        version -> Int4,
        xml -> Text,
        author -> Text,
        comment -> Text,
        diff -> Text,
        committed_at -> Timestamptz,
    }
}

diesel::joinable!(devices -> accounts (account_id));

diesel::table! {
    config_candidate (singleton) {
        singleton -> Bool,
        base_version -> Int4,
        mode -> Text,
        xml -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamptz,
    }
}

diesel::table! {
    password_credentials (account_id) {
        account_id -> Uuid,
        hash -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(password_credentials -> accounts (account_id));
diesel::joinable!(account_subjects -> accounts (account_id));

diesel::table! {
    auth_flows (flow_id) {
        flow_id -> Uuid,
        browser_hash -> Bytea,
        policy -> Jsonb,
        return_to -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        account_id -> Nullable<Uuid>,
        amr -> Nullable<Array<Text>>,
        acr -> Nullable<Text>,
        auth_time -> Nullable<Timestamptz>,
        sid -> Nullable<Text>,
        consumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sso_sessions (session_hash) {
        session_hash -> Bytea,
        sid -> Text,
        account_id -> Uuid,
        amr -> Array<Text>,
        acr -> Nullable<Text>,
        auth_time -> Timestamptz,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Bytea,
        client_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        scopes -> Array<Text>,
        account_id -> Uuid,
        auth_time -> Timestamptz,
        amr -> Array<Text>,
        acr -> Nullable<Text>,
        sid -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
        token_family -> Nullable<Uuid>,
        subject -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        family_id -> Uuid,
        client_id -> Text,
        account_id -> Uuid,
        scopes -> Array<Text>,
        auth_time -> Timestamptz,
        amr -> Array<Text>,
        acr -> Nullable<Text>,
        sid -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        family_expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        subject -> Nullable<Text>,
    }
}

diesel::table! {
    account_subjects (subject) {
        subject -> Text,
        account_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    client_assertion_jtis (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    admin_sessions (session_hash) {
        session_hash -> Bytea,
        username -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    passkey_ceremonies (ceremony_id) {
        ceremony_id -> Uuid,
        kind -> Text,
        account_id -> Nullable<Uuid>,
        flow_id -> Nullable<Uuid>,
        state -> Jsonb,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(passkey_ceremonies -> accounts (account_id));

diesel::table! {
    account_groups (group_id) {
        group_id -> Uuid,
        display_name -> Text,
        external_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    group_members (group_id, account_id) {
        group_id -> Uuid,
        account_id -> Uuid,
    }
}

diesel::joinable!(group_members -> account_groups (group_id));
diesel::joinable!(group_members -> accounts (account_id));

diesel::table! {
    audit_log (entry_id) {
        entry_id -> Int8,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        account_id -> Nullable<Uuid>,
        subject -> Text,
        detail -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    account_groups,
    group_members,
    devices,
    signing_keys,
    config_versions,
    config_candidate,
    password_credentials,
    auth_flows,
    sso_sessions,
    authorization_codes,
    refresh_tokens,
    account_subjects,
    client_assertion_jtis,
    rate_limits,
    passkey_ceremonies
);

diesel::table! {
    sign_ins (account_id, signed_in_at) {
        account_id -> Uuid,
        signed_in_at -> Timestamptz,
        amr -> Array<Text>,
        acr -> Nullable<Text>,
        client_id -> Nullable<Text>,
    }
}
