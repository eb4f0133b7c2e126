//! The library's public surface: thread-safety of every type an embedding application shares
//! between threads, and the pre-save flow through [`art9::service::Engine`].

fn assert_send_sync<T: Send + Sync>() {}
fn assert_clone<T: Clone>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<art9::Scanner>();
    assert_send_sync::<art9::ScannerBuilder>();
    assert_send_sync::<art9::CompiledPolicy>();
    assert_send_sync::<art9::Finding>();
    assert_send_sync::<art9::Decision>();
    assert_send_sync::<art9::Outcome>();
    assert_send_sync::<art9::Action>();
    assert_send_sync::<art9::MaskStyle>();
    assert_send_sync::<art9::Category>();
    assert_send_sync::<art9::Lang>();
    assert_send_sync::<art9::LexiconSet>();
    assert_send_sync::<art9::Lexicon>();
    assert_send_sync::<art9::BuildError>();
    assert_send_sync::<art9::LexiconError>();
    assert_send_sync::<art9::PolicyError>();
    assert_send_sync::<art9::service::Engine>();
    assert_send_sync::<art9::service::Request>();
    assert_send_sync::<art9::service::Response>();
    assert_send_sync::<art9::service::RequestError>();
    assert_send_sync::<art9::service::EngineError>();
    #[cfg(feature = "serve")]
    {
        assert_send_sync::<art9::serve::Server>();
        assert_send_sync::<art9::serve::Config>();
        assert_clone::<art9::serve::Server>();
    }
    // Cheap to clone (an Arc inside): share one per process.
    assert_clone::<art9::Scanner>();
    assert_clone::<art9::CompiledPolicy>();
    assert_clone::<art9::service::Engine>();
}

#[test]
fn one_scanner_serves_many_threads() {
    let scanner = art9::Scanner::builtin().unwrap();
    let policy = art9::CompiledPolicy::load("default").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (scanner, policy) = (scanner.clone(), policy.clone());
            s.spawn(move || {
                for _ in 0..50 {
                    let note = "Klant heeft diabetes.";
                    let f = scanner.scan(note);
                    let d = policy.decide(&art9::RecordContext::field("notes"), &f);
                    assert_eq!(art9::mask(note, &f, &d, &policy), "Klant heeft [HEALTH].");
                }
            });
        }
    });
}
