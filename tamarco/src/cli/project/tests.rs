use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;

/// What a scripted session wrote, shared with the test.
#[derive(Clone, Default)]
struct Transcript(Arc<Mutex<Vec<u8>>>);

impl Write for Transcript {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Transcript {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn scripted(answers: &'static str) -> (Prompter, Transcript) {
    let transcript = Transcript::default();
    let prompter = Prompter::scripted(Box::new(answers.as_bytes()), Box::new(transcript.clone()));
    (prompter, transcript)
}

#[test]
fn off_a_terminal_a_name_alone_takes_every_default() {
    let options = ProjectOptions::new("orders", "/tmp/x").unwrap();
    assert_eq!(options.slug, "orders");
    assert_eq!(options.version, "0.1.0");
    assert_eq!(options.resources, BTreeSet::from([ResourceKind::Http]));
    assert_eq!(options.settings, SettingsSource::File);
    assert_eq!(options.tamarco, TamarcoSource::Registry);
    assert_eq!(options.dir(), PathBuf::from("/tmp/x/orders"));
}

#[test]
fn off_a_terminal_without_a_name_says_how_to_give_one() {
    let error = ProjectArgs::default()
        .resolve(&mut Prompter::none())
        .unwrap_err();
    assert!(error.to_string().contains("tamarco new NAME"), "{error}");
}

#[test]
fn a_terminal_session_asks_each_question_and_empty_answers_take_the_default() {
    let (mut prompter, transcript) =
        scripted("price-feed\n\nAda Lovelace\n\n1.2.3\nPrices, live.\npostgres, redis\netcd\n");
    let options = ProjectArgs::default().resolve(&mut prompter).unwrap();
    assert_eq!(options.name, "price-feed");
    assert_eq!(options.slug, "price_feed", "the default slug");
    assert_eq!(options.author, "Ada Lovelace");
    assert_eq!(options.email, "you@example.com");
    assert_eq!(options.version, "1.2.3");
    assert_eq!(options.description, "Prices, live.");
    assert_eq!(
        options.resources,
        BTreeSet::from([ResourceKind::Postgres, ResourceKind::Redis])
    );
    assert_eq!(options.settings, SettingsSource::Etcd);
    let asked = transcript.text();
    for question in [
        "Project name [my_service]: ",
        "Project slug [price_feed]: ",
        "Full name [Your Name]: ",
        "Version [0.1.0]: ",
        "Settings source (file, etcd) [file]: ",
    ] {
        assert!(asked.contains(question), "asked {question:?} in {asked:?}");
    }
}

#[test]
fn a_wrong_answer_is_explained_and_asked_again() {
    let (mut prompter, transcript) = scripted("9lives\norders\n\n\n\n\n\nmongo\nhttp\n\n");
    let options = ProjectArgs::default().resolve(&mut prompter).unwrap();
    assert_eq!(options.name, "orders");
    let asked = transcript.text();
    assert!(asked.contains("invalid project name `9lives`"), "{asked}");
    assert!(
        asked.contains(
            "unknown resource `mongo`: choose from http, amqp, kafka, postgres, redis, influxdb"
        ),
        "{asked}"
    );
}

#[test]
fn flags_answer_their_questions_and_are_checked() {
    let args = ProjectArgs {
        name: Some("orders".into()),
        version: Some("one".into()),
        ..ProjectArgs::default()
    };
    let error = args.resolve(&mut Prompter::none()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("invalid version `one`: give MAJOR.MINOR.PATCH"),
        "{error}"
    );

    let args = ProjectArgs {
        name: Some("orders".into()),
        resources: Some("none".into()),
        settings: Some(SettingsSource::Etcd),
        tamarco_git: Some("https://example.invalid/tamarco.git".into()),
        tamarco_rev: Some("v0.1.0".into()),
        ..ProjectArgs::default()
    };
    let options = args.resolve(&mut Prompter::none()).unwrap();
    assert!(options.resources.is_empty());
    assert_eq!(
        options.tamarco,
        TamarcoSource::Git {
            url: "https://example.invalid/tamarco.git".into(),
            rev: Some("v0.1.0".into())
        }
    );
}

#[test]
fn names_follow_cargo_and_slugs_are_identifiers() {
    for good in ["orders", "price-feed", "a1_b2", "X"] {
        assert_eq!(check_name(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "9lives",
        "-x",
        "a b",
        "café",
        "fn",
        "test",
        "self",
        &"a".repeat(65),
    ] {
        let error = check_name(bad).unwrap_err();
        assert!(
            error.contains("a valid name starts with an ASCII letter"),
            "{bad}: {error}"
        );
    }
    assert_eq!(check_slug("price_feed"), Ok(()));
    for bad in ["Price", "price-feed", "1x", "async"] {
        assert!(
            check_slug(bad)
                .unwrap_err()
                .contains("snake_case Rust identifier"),
            "{bad}"
        );
    }
}

#[test]
fn a_tamarco_path_must_be_a_checkout() {
    let args = ProjectArgs {
        name: Some("orders".into()),
        tamarco_path: Some(std::env::temp_dir()),
        ..ProjectArgs::default()
    };
    let error = args.resolve(&mut Prompter::none()).unwrap_err();
    assert!(
        error.to_string().contains("is not a tamarco checkout"),
        "{error}"
    );
}
