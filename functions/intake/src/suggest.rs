//! `GET /api/v1/services/suggest?q=`: the services a resident's own words most likely mean, ranked by a keyword and synonym model in English and Spanish built from the catalogue.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cityfix_domain::{Invalid, Service};
use cityfix_http::api::{ApiError, ApiQuery};
use serde::Deserialize;
use serde_json::{json, Value};

/// Most services suggested.
const SUGGESTIONS: usize = 5;
/// The longest text ranked, as the report's description.
const MAX_TYPED: usize = 4000;
/// Words are compared by their first letters: "potholes" and "pothole", "baches" and "bache".
const STEM: usize = 5;

/// How much a word counts where it is found in a service.
const IN_NAME: f64 = 3.0;
const IN_KEYWORDS: f64 = 3.0;
const IN_GROUP: f64 = 1.0;
const IN_DESCRIPTION: f64 = 1.0;
/// A word reached through a synonym counts a little less than the word itself.
const THROUGH_SYNONYM: f64 = 0.9;

/// Words that say nothing of the problem, in English and Spanish.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it",
    "its", "my", "near", "of", "on", "or", "our", "so", "that", "the", "there", "this", "to",
    "very", "was", "with", "al", "con", "de", "del", "el", "en", "es", "esta", "hay", "la", "las",
    "lo", "los", "mi", "muy", "no", "para", "por", "que", "se", "su", "un", "una", "y",
];

/// Everyday words (English and Spanish) and the catalogue words they mean.
const SYNONYMS: &[(&str, &[&str])] = &[
    // Streets and sidewalks
    ("bache", &["pothole", "hole"]),
    ("hoyo", &["hole", "pothole"]),
    ("agujero", &["hole", "pothole"]),
    ("hueco", &["hole", "pothole"]),
    ("calle", &["street", "road"]),
    ("carretera", &["road"]),
    ("pavimento", &["pavement"]),
    ("asfalto", &["asphalt"]),
    ("crater", &["pothole"]),
    ("acera", &["sidewalk"]),
    ("banqueta", &["sidewalk"]),
    ("vereda", &["sidewalk"]),
    ("pavement", &["sidewalk", "pavement"]),
    ("footpath", &["sidewalk"]),
    ("bordillo", &["curb"]),
    ("kerb", &["curb"]),
    ("rampa", &["ramp"]),
    ("grieta", &["cracked"]),
    ("rota", &["cracked", "broken"]),
    ("roto", &["broken"]),
    ("tripped", &["trip hazard"]),
    ("alcantarilla", &["storm drain", "drain"]),
    ("desague", &["drain"]),
    ("sumidero", &["catch basin", "drain"]),
    ("sewer", &["drain", "catch basin"]),
    ("gutter", &["drain"]),
    ("inundada", &["flooding"]),
    ("inundacion", &["flooding"]),
    ("flooded", &["flooding"]),
    ("charco", &["puddle"]),
    ("tapada", &["clogged"]),
    ("tapado", &["clogged"]),
    // Lights and signals
    ("farola", &["streetlight", "lamp"]),
    ("luminaria", &["streetlight"]),
    ("poste", &["light pole"]),
    ("luz", &["light"]),
    ("lampara", &["lamp"]),
    ("apagada", &["dark"]),
    ("apagado", &["dark"]),
    ("oscura", &["dark"]),
    ("parpadea", &["flickering"]),
    ("semaforo", &["traffic light", "signal"]),
    ("cruce", &["intersection"]),
    ("peatonal", &["pedestrian signal"]),
    ("boton", &["walk button"]),
    // Trash
    ("basura", &["trash", "garbage"]),
    ("rubbish", &["trash"]),
    ("reciclaje", &["recycling"]),
    ("recoleccion", &["collection", "pickup"]),
    ("recogieron", &["pickup", "collection"]),
    ("recogida", &["pickup", "collection"]),
    ("collected", &["collection", "pickup"]),
    ("contenedor", &["bin", "cart"]),
    ("bote", &["bin"]),
    ("tiraron", &["dumped", "dumping"]),
    ("tirado", &["dumped"]),
    ("colchon", &["mattress"]),
    ("llantas", &["tires"]),
    ("neumaticos", &["tires"]),
    ("muebles", &["furniture"]),
    ("escombros", &["debris"]),
    ("sofa", &["furniture"]),
    ("couch", &["furniture"]),
    ("fly", &["dumping"]),
    // Trees, parks, lots
    ("arbol", &["tree"]),
    ("rama", &["branch", "limb"]),
    ("caido", &["fallen"]),
    ("caida", &["fallen"]),
    ("tormenta", &["storm damage"]),
    ("maleza", &["weeds", "overgrown"]),
    ("hierba", &["grass", "weeds"]),
    ("pasto", &["grass"]),
    ("cesped", &["grass"]),
    ("lote", &["vacant lot"]),
    ("terreno", &["vacant lot"]),
    ("baldio", &["vacant lot"]),
    ("abandonada", &["abandoned building"]),
    // Graffiti
    ("grafiti", &["graffiti"]),
    ("pintada", &["graffiti", "spray paint"]),
    ("pintadas", &["graffiti", "spray paint"]),
    ("pintura", &["paint"]),
    ("tags", &["tagging"]),
    ("vandalismo", &["vandalism"]),
    // Vehicles
    ("coche", &["car", "vehicle"]),
    ("carro", &["car", "vehicle"]),
    ("auto", &["car", "vehicle"]),
    ("automovil", &["car", "vehicle"]),
    ("vehiculo", &["vehicle"]),
    ("truck", &["vehicle"]),
    ("van", &["vehicle"]),
    ("abandonado", &["abandoned car"]),
    ("placas", &["no plates"]),
    ("estacionado", &["parked"]),
    // Noise
    ("ruido", &["noise"]),
    ("ruidoso", &["loud", "noise"]),
    ("noisy", &["noise", "loud"]),
    ("fuerte", &["loud"]),
    ("musica", &["music"]),
    ("fiesta", &["party"]),
    ("ladrando", &["barking"]),
    ("ladra", &["barking"]),
    // Pests and animals
    ("rata", &["rats", "rodents"]),
    ("ratas", &["rats", "rodents"]),
    ("raton", &["mice", "rodents"]),
    ("ratones", &["mice", "rodents"]),
    ("roedores", &["rodents"]),
    ("mouse", &["mice"]),
    ("plaga", &["pests"]),
    ("muerto", &["dead animal"]),
    ("muerta", &["dead animal"]),
    ("animal", &["dead animal"]),
    ("venado", &["deer"]),
    ("mapache", &["raccoon"]),
    ("pajaro", &["dead bird"]),
    ("gato", &["dead animal"]),
    ("perro", &["dead animal"]),
    ("squirrel", &["dead animal"]),
    ("skunk", &["dead animal"]),
];

/// Lowercase, without accents, split on anything not a letter or digit, stop words left out.
pub(crate) fn words(text: &str) -> Vec<String> {
    let plain: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(str::to_string)
        .collect()
}

pub(crate) fn stem(word: &str) -> String {
    word.chars().take(STEM).collect()
}

/// Adds each word of `text` to `weights` as its stem, at `weight` unless it counts more already.
pub(crate) fn add_words(weights: &mut HashMap<String, f64>, text: &str, weight: f64) {
    for word in words(text) {
        let entry = weights.entry(stem(&word)).or_default();
        *entry = entry.max(weight);
    }
}

/// Entries (services, answers) as weighted stems, with how many entries have each stem.
pub(crate) struct StemIndex {
    weights: Vec<HashMap<String, f64>>,
    having: HashMap<String, usize>,
}

impl StemIndex {
    pub(crate) fn new(weights: Vec<HashMap<String, f64>>) -> Self {
        let mut having: HashMap<String, usize> = HashMap::new();
        for stems in &weights {
            for stem in stems.keys() {
                *having.entry(stem.clone()).or_default() += 1;
            }
        }
        StemIndex { weights, having }
    }

    /// Whether some entry has this stem.
    pub(crate) fn knows(&self, stem: &str) -> bool {
        self.having.contains_key(stem)
    }

    pub(crate) fn stems(&self) -> impl Iterator<Item = &String> {
        self.having.keys()
    }

    /// Entry positions with their scores, best first (then in order): each wanted stem's weight
    /// in the entry, times how far it was reached, times how rare it is (ln(1 + entries / having)).
    pub(crate) fn rank(&self, wanted: &HashMap<String, f64>) -> Vec<(usize, f64)> {
        let total = self.weights.len() as f64;
        let mut ranked: Vec<(usize, f64)> = self
            .weights
            .iter()
            .enumerate()
            .map(|(index, weights)| {
                let score = wanted
                    .iter()
                    .filter_map(|(stem, reach)| {
                        let weight = weights.get(stem)?;
                        let rarity = (1.0 + total / self.having[stem] as f64).ln();
                        Some(weight * reach * rarity)
                    })
                    .sum::<f64>();
                (index, score)
            })
            .filter(|(_, score)| *score > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }
}

/// One service as a suggestion shows it: in the catalogue's language, and its name and group in
/// each language services.toml translates it into.
struct Entry {
    code: String,
    name: String,
    group: String,
    translated: BTreeMap<String, (String, String)>,
}

impl Entry {
    fn name_and_group(&self, language: Option<&str>) -> (&str, &str) {
        match language.and_then(|l| self.translated.get(l)) {
            Some((name, group)) => (name, group),
            None => (&self.name, &self.group),
        }
    }
}

/// The catalogue, ready to rank: every service's weighted stems and how many services have each.
pub struct Suggester {
    entries: Vec<Entry>,
    index: StemIndex,
    synonyms: HashMap<String, Vec<String>>,
}

impl Suggester {
    /// Confidential services (misconduct) are left out: they have a form of their own, and words
    /// typed on the public form should never lead a report there.
    pub fn new(services: &[Service]) -> Self {
        let services: Vec<&Service> = services.iter().filter(|s| !s.confidential).collect();
        let weights = services
            .iter()
            .map(|service| {
                let mut weights = HashMap::new();
                add_words(&mut weights, &service.name, IN_NAME);
                add_words(&mut weights, &service.keywords.join(" "), IN_KEYWORDS);
                add_words(&mut weights, &service.group, IN_GROUP);
                add_words(&mut weights, &service.description, IN_DESCRIPTION);
                // Every language's words find it: "bache" the pothole, whatever the page's language.
                for text in service.translations.values() {
                    add_words(&mut weights, text.name.as_deref().unwrap_or(""), IN_NAME);
                    add_words(&mut weights, &text.keywords.join(" "), IN_KEYWORDS);
                    add_words(&mut weights, text.group.as_deref().unwrap_or(""), IN_GROUP);
                    add_words(
                        &mut weights,
                        text.description.as_deref().unwrap_or(""),
                        IN_DESCRIPTION,
                    );
                }
                weights
            })
            .collect();
        let entries = services
            .iter()
            .map(|service| Entry {
                code: service.code.clone(),
                name: service.name.clone(),
                group: service.group.clone(),
                translated: service
                    .translations
                    .keys()
                    .map(|language| {
                        let shown = service.in_language(language);
                        (language.clone(), (shown.name, shown.group))
                    })
                    .collect(),
            })
            .collect();
        let synonyms = SYNONYMS
            .iter()
            .map(|(word, means)| {
                let stems = means
                    .iter()
                    .flat_map(|m| words(m))
                    .map(|w| stem(&w))
                    .collect();
                (word.to_string(), stems)
            })
            .collect();
        Suggester {
            entries,
            index: StemIndex::new(weights),
            synonyms,
        }
    }

    /// Service codes with their scores, best first; only services some word points to.
    pub fn rank(&self, typed: &str) -> Vec<(&str, f64)> {
        // Each stem once, at the best weight it is reached with (itself, or through a synonym).
        let mut wanted: HashMap<String, f64> = HashMap::new();
        let mut seen = HashSet::new();
        for word in words(typed) {
            if !seen.insert(word.clone()) {
                continue;
            }
            let own = wanted.entry(stem(&word)).or_default();
            *own = own.max(1.0);
            for meant in self.synonyms.get(&word).into_iter().flatten() {
                let through = wanted.entry(meant.clone()).or_default();
                *through = through.max(THROUGH_SYNONYM);
            }
        }
        let mut ranked: Vec<(&str, f64)> = self
            .index
            .rank(&wanted)
            .into_iter()
            .map(|(index, score)| (self.entries[index].code.as_str(), score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked
    }

    fn entry(&self, code: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.code == code)
    }
}

/// The least score a suggestion needs to file an e-mailed report under it without asking.
const FILED_UNDER_AT: f64 = 1.0;

/// Chooses the service of an e-mailed report: the best suggestion for its words, if one scores
/// at least [`FILED_UNDER_AT`] (a word of the service's own, or a synonym and more).
pub fn service_chooser(services: &[Service]) -> cityfix_app::mail_intake::ServiceChooser {
    let suggester = Suggester::new(services);
    Arc::new(move |words: &str| {
        suggester
            .rank(words)
            .first()
            .filter(|(_, score)| *score >= FILED_UNDER_AT)
            .map(|(code, _)| code.to_string())
    })
}

/// The suggestion route over a catalogue prepared once.
pub fn suggest_router(services: &[Service]) -> Router {
    Router::new()
        .route("/api/v1/services/suggest", get(suggest))
        .with_state(Arc::new(Suggester::new(services)))
}

#[derive(Deserialize)]
struct SuggestQuery {
    q: Option<String>,
    /// The language the names are given in (services.toml's translations); else the catalogue's.
    lang: Option<String>,
}

/// `{"suggestions": [{service_code, service_name, group, score}]}`, best first, at most five.
async fn suggest(
    State(suggester): State<Arc<Suggester>>,
    ApiQuery(query): ApiQuery<SuggestQuery>,
) -> Result<Json<Value>, ApiError> {
    let typed = query.q.unwrap_or_default();
    if typed.trim().is_empty() {
        return Err(Invalid::missing("q", "give the words to suggest services for").into());
    }
    if typed.chars().count() > MAX_TYPED {
        return Err(
            Invalid::field("q", format!("at most {MAX_TYPED} characters are ranked")).into(),
        );
    }
    let suggestions: Vec<Value> = suggester
        .rank(&typed)
        .into_iter()
        .take(SUGGESTIONS)
        .filter_map(|(code, score)| {
            let entry = suggester.entry(code)?;
            let (name, group) = entry.name_and_group(query.lang.as_deref());
            Some(json!({
                "service_code": entry.code,
                "service_name": name,
                "group": group,
                "score": (score * 100.0).round() / 100.0,
            }))
        })
        .collect();
    Ok(Json(json!({ "suggestions": suggestions })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lose_case_accents_and_stop_words() {
        assert_eq!(
            words("Hay un Árbol caído en la acera"),
            ["arbol", "caido", "acera"]
        );
        assert_eq!(stem("potholes"), stem("pothole"));
    }
}
