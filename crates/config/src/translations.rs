//! Checking services.toml's translations (`[service.translations.<language>]`) against the
//! languages site.toml offers: a language the site does not offer, or the catalogue's own, is
//! refused, and so is a question or a choice the service does not have, naming the service.

use std::path::Path;

use cityfix_domain::Service;

use crate::ConfigError;

/// Refuses a translation in a language the site does not offer (or in its first language, the
/// one services.toml is written in) and a translated question or choice the service lacks.
pub fn check_service_translations(
    dir: &Path,
    languages: &[String],
    services: &[Service],
) -> Result<(), ConfigError> {
    let path = dir.join("services.toml");
    let first = languages.first().map(String::as_str).unwrap_or("en");
    for service in services {
        let fault = |field: String, message: String| ConfigError {
            file: path.clone(),
            entry: Some(format!("service `{}`", service.code)),
            field: Some(field),
            message,
        };
        for (language, text) in &service.translations {
            let at = format!("translations.{language}");
            if language == first {
                return Err(fault(
                    at,
                    format!("`{language}` is the site's first language, the one services.toml is written in; write the text in the service itself"),
                ));
            }
            if !languages.iter().any(|offered| offered == language) {
                return Err(fault(
                    at,
                    format!(
                        "`{language}` is not a language of site.toml (it offers {}); add it there first",
                        languages.join(", ")
                    ),
                ));
            }
            for (code, asked) in &text.attributes {
                let Some(attribute) = service.attributes.iter().find(|a| &a.code == code) else {
                    return Err(fault(
                        format!("{at}.attribute.{code}"),
                        format!("the service asks no question `{code}`"),
                    ));
                };
                for key in asked.values.keys() {
                    if !attribute.values.iter().any(|v| &v.key == key) {
                        return Err(fault(
                            format!("{at}.attribute.{code}.values.{key}"),
                            format!("question `{code}` has no choice `{key}`"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford")
    }

    fn languages() -> Vec<String> {
        vec!["en".into(), "es".into()]
    }

    fn services() -> Vec<Service> {
        crate::load_city(&demo_dir()).unwrap().services
    }

    #[test]
    fn the_demo_catalogue_is_in_spanish_too() {
        let services = services();
        check_service_translations(&demo_dir(), &languages(), &services).unwrap();
        for service in &services {
            let es = service.translations.get("es");
            let es = es.unwrap_or_else(|| panic!("{} has no Spanish", service.code));
            assert!(es.name.is_some() && es.description.is_some() && es.group.is_some());
            assert!(
                !es.keywords.is_empty(),
                "{}: Spanish keywords",
                service.code
            );
            for attribute in &service.attributes {
                let asked = es.attributes.get(&attribute.code);
                let asked = asked.unwrap_or_else(|| panic!("{}: {}", service.code, attribute.code));
                assert!(asked.description.is_some());
                for value in &attribute.values {
                    assert!(asked.values.contains_key(&value.key), "{}", value.key);
                }
            }
        }
        assert_eq!(
            services[0].in_language("es").name,
            "Bache",
            "the first service, in Spanish"
        );
    }

    #[test]
    fn a_translation_in_a_language_the_site_lacks_or_of_nothing_is_refused_by_service() {
        let mut services = services();
        let pothole = services.iter_mut().find(|s| s.code == "pothole").unwrap();
        let es = pothole.translations.remove("es").unwrap();
        pothole.translations.insert("fr".into(), es.clone());
        let err = check_service_translations(&demo_dir(), &languages(), &services).unwrap_err();
        assert!(err.file.ends_with("services.toml"));
        assert_eq!(err.entry.as_deref(), Some("service `pothole`"));
        assert_eq!(err.field.as_deref(), Some("translations.fr"));
        assert!(err.message.contains("not a language of site.toml"), "{err}");

        let pothole = services.iter_mut().find(|s| s.code == "pothole").unwrap();
        pothole.translations.clear();
        pothole.translations.insert("en".into(), es.clone());
        let err = check_service_translations(&demo_dir(), &languages(), &services).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("translations.en"));

        let pothole = services.iter_mut().find(|s| s.code == "pothole").unwrap();
        let mut wrong = es.clone();
        wrong.attributes.insert("colour".into(), Default::default());
        pothole.translations.clear();
        pothole.translations.insert("es".into(), wrong);
        let err = check_service_translations(&demo_dir(), &languages(), &services).unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("translations.es.attribute.colour")
        );

        let pothole = services.iter_mut().find(|s| s.code == "pothole").unwrap();
        let mut wrong = es;
        wrong
            .attributes
            .get_mut("pothole_size")
            .unwrap()
            .values
            .insert("huge".into(), "Enorme".into());
        pothole.translations.clear();
        pothole.translations.insert("es".into(), wrong);
        let err = check_service_translations(&demo_dir(), &languages(), &services).unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("translations.es.attribute.pothole_size.values.huge")
        );
    }

    #[test]
    fn an_unknown_field_in_a_translation_is_refused_when_read() {
        let service = |extra: &str| {
            toml::from_str::<Service>(&format!(
                "code = \"pothole\"\nname = \"Pothole\"\ndescription = \"A hole\"\ngroup = \"Streets\"\ndepartment = \"public-works\"\n[translations.es]\nname = \"Bache\"\n{extra}"
            ))
        };
        assert_eq!(service("").unwrap().name_in("es"), "Bache");
        let err = service("title = \"Bache\"\n").unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
    }
}
