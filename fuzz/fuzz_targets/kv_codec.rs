//! The KV key and tenant codec on arbitrary input: tenant ids and keys are checked without
//! panicking, a valid key of a valid tenant round-trips through its physical form, and that
//! physical key belongs to no other tenant and not to the global namespace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p8fs_kv::{Key, Namespace, TenantId, prefix_upper_bound};

fuzz_target!(|data: &[u8]| {
    // Three fields separated by 0xFF (a byte UTF-8 never uses): tenant, other tenant, key.
    let mut parts = data.splitn(3, |b| *b == 0xFF).map(String::from_utf8_lossy);
    let (a, b, key) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let (Ok(a), Ok(key)) = (TenantId::new(a.as_ref()), Key::new(key.as_ref())) else {
        let _ = TenantId::new(b.as_ref());
        return;
    };
    let ns = Namespace::Tenant(a.clone());
    assert!(ns.check_key(&key).is_ok());
    let physical = ns.physical(key.as_str());
    assert_eq!(ns.logical(&physical), Some(key.as_str()), "the round trip");
    // Inside its tenant's scan range.
    let prefix = ns.prefix();
    assert!(physical.starts_with(&prefix));
    if let Some(end) = prefix_upper_bound(&prefix) {
        assert!(physical < end, "past the tenant's range");
    }
    // Nobody else's.
    assert_eq!(Namespace::Global.logical(&physical), None, "a tenant key seen as global");
    if let Ok(b) = TenantId::new(b.as_ref())
        && b != a
    {
        assert_eq!(Namespace::Tenant(b.clone()).logical(&physical), None, "tenant {b} sees {a}'s key");
        let other = Namespace::Tenant(b).prefix();
        assert!(!physical.starts_with(&other), "inside another tenant's prefix");
    }
});
