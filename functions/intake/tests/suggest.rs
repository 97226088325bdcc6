//! `GET /api/v1/services/suggest`: on descriptions a resident might type, in English and Spanish,
//! how often the right service is among the first three; and a clear refusal of no words.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// What residents type, and the demo city's service it is about. Written for this test, without
/// looking at the catalogue's keywords; half in Spanish.
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "There's a huge hole in the road outside my house, cars keep swerving",
        "pothole",
    ),
    (
        "Deep crater in the right lane on Main after the winter",
        "pothole",
    ),
    (
        "The asphalt is broken up and my tire hit a big dip",
        "pothole",
    ),
    (
        "Sidewalk slab lifted by tree roots, my mother tripped on it",
        "sidewalk_damage",
    ),
    (
        "The curb ramp at the corner is crumbling, wheelchairs can't get up",
        "sidewalk_damage",
    ),
    (
        "Water pools at the corner every time it rains, the drain is full of leaves",
        "blocked_storm_drain",
    ),
    (
        "The street lamp in front of number 12 has been dark for a week",
        "streetlight_out",
    ),
    (
        "Light pole flickers on and off all night",
        "streetlight_out",
    ),
    (
        "The traffic lights at the intersection are stuck on red",
        "traffic_signal",
    ),
    ("Walk button at the crossing does nothing", "traffic_signal"),
    (
        "They didn't pick up our garbage this Tuesday",
        "missed_trash_pickup",
    ),
    (
        "Recycling bin was skipped again on collection day",
        "missed_trash_pickup",
    ),
    (
        "Someone left an old mattress and a couch in the alley",
        "illegal_dumping",
    ),
    (
        "Pile of tires and construction junk dumped on the vacant lot",
        "illegal_dumping",
    ),
    (
        "A big branch came down in the storm and is blocking the path",
        "fallen_tree",
    ),
    ("Tree fell across the sidewalk", "fallen_tree"),
    (
        "The empty lot next door has weeds as tall as me",
        "overgrown_lot",
    ),
    ("Spray paint tags all over the bus shelter", "graffiti"),
    (
        "Car with flat tires and no plates parked for a month",
        "abandoned_vehicle",
    ),
    (
        "Loud music and a party every night until 3 am",
        "noise_complaint",
    ),
    (
        "Rats running around the dumpsters behind the restaurant",
        "rodents",
    ),
    ("Dead raccoon in the middle of the street", "dead_animal"),
    (
        "Hay un bache enorme en la calle frente a mi casa",
        "pothole",
    ),
    ("Un hoyo muy profundo en el carril derecho", "pothole"),
    (
        "La acera está rota y levantada por las raíces",
        "sidewalk_damage",
    ),
    (
        "La rampa de la banqueta en la esquina está destruida",
        "sidewalk_damage",
    ),
    (
        "La alcantarilla está tapada con hojas y la calle se inunda",
        "blocked_storm_drain",
    ),
    (
        "La farola de mi calle lleva días apagada",
        "streetlight_out",
    ),
    ("El poste de luz parpadea toda la noche", "streetlight_out"),
    ("El semáforo del cruce no funciona", "traffic_signal"),
    ("No recogieron la basura el martes", "missed_trash_pickup"),
    ("No pasaron a recoger el reciclaje", "missed_trash_pickup"),
    (
        "Tiraron un colchón y muebles viejos en el callejón",
        "illegal_dumping",
    ),
    (
        "Alguien dejó llantas y escombros en el terreno baldío",
        "illegal_dumping",
    ),
    (
        "Se cayó una rama grande del árbol sobre la acera",
        "fallen_tree",
    ),
    (
        "El lote vacío está lleno de maleza y hierba alta",
        "overgrown_lot",
    ),
    ("Pintadas de grafiti en la pared de la escuela", "graffiti"),
    (
        "Un carro abandonado sin placas lleva semanas estacionado",
        "abandoned_vehicle",
    ),
    (
        "Música muy fuerte y fiesta todas las noches",
        "noise_complaint",
    ),
    (
        "Hay ratas en el callejón detrás de los contenedores",
        "rodents",
    ),
    ("Un gato muerto en medio de la calle", "dead_animal"),
    ("Un venado muerto al lado de la carretera", "dead_animal"),
];

/// Written after the model was frozen (no synonym added for them): the figure on words the model
/// was not tuned on.
const HELD_OUT: &[(&str, &str)] = &[
    (
        "Our block's bins weren't emptied yesterday",
        "missed_trash_pickup",
    ),
    (
        "Massive pit in the pavement near the school, a kid fell off his bike",
        "pothole",
    ),
    ("The lamp post by the park is out", "streetlight_out"),
    (
        "Red light never turns green at Park and Main",
        "traffic_signal",
    ),
    ("Mice and droppings all over the yard", "rodents"),
    ("Somebody sprayed their name across the bridge", "graffiti"),
    (
        "An old van has been sitting on our street since summer",
        "abandoned_vehicle",
    ),
    ("Neighbors blasting bass at midnight", "noise_complaint"),
    (
        "Roadkill, looks like a deer, on the shoulder",
        "dead_animal",
    ),
    (
        "Huge limb hanging from the oak over the street",
        "fallen_tree",
    ),
    (
        "Bags of trash and an old fridge left by the curb, not ours",
        "illegal_dumping",
    ),
    (
        "The storm grate is clogged and the road floods",
        "blocked_storm_drain",
    ),
    ("Broken paving stones on the walkway", "sidewalk_damage"),
    (
        "Abandoned house with grass up to the windows",
        "overgrown_lot",
    ),
    (
        "El camión de la basura no pasó esta semana",
        "missed_trash_pickup",
    ),
    ("Hay un agujero peligroso en el pavimento", "pothole"),
    ("La luz de la calle no prende", "streetlight_out"),
    ("El semáforo para peatones está roto", "traffic_signal"),
    ("Vi ratones en el parque", "rodents"),
    ("Alguien pintó la puerta del edificio con spray", "graffiti"),
    ("Un coche viejo sin ruedas abandonado", "abandoned_vehicle"),
    (
        "Los vecinos ponen la música a todo volumen",
        "noise_complaint",
    ),
    ("Hay un perro muerto en la acera", "dead_animal"),
    ("El viento tumbó un árbol en la calle", "fallen_tree"),
];

fn demo() -> axum::Router {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford");
    let city = cityfix_config::load_city(&dir).unwrap();
    intake::suggest_router(&city.services)
}

async fn suggest(app: &axum::Router, query: &str) -> (StatusCode, Value) {
    let uri = format!("/api/v1/services/suggest?{query}");
    let response = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// How many of `cases` have the right service first, and in the first three; and the misses.
async fn measure(app: &axum::Router, cases: &[(&str, &str)]) -> (usize, usize, Vec<String>) {
    let mut misses = Vec::new();
    let mut first = 0;
    for (typed, expected) in cases {
        let (status, body) = suggest(app, &format!("q={}", encoded(typed))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let codes: Vec<&str> = body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["service_code"].as_str().unwrap())
            .collect();
        if codes.first() == Some(expected) {
            first += 1;
        }
        if !codes.iter().take(3).any(|c| c == expected) {
            misses.push(format!("{typed:?}: wanted {expected}, got {codes:?}"));
        }
    }
    (first, cases.len() - misses.len(), misses)
}

#[tokio::test]
async fn the_right_service_is_in_the_first_three_for_most_descriptions_in_both_languages() {
    let app = demo();
    for (set, cases, least) in [
        ("written with the model", DESCRIPTIONS, 0.85),
        ("held out", HELD_OUT, 0.6),
    ] {
        let (first, top3, misses) = measure(&app, cases).await;
        let total = cases.len();
        println!(
            "suggest ({set}): right service first for {first} of {total}, in the first three for {top3} of {total} ({:.0} %); misses: {misses:?}",
            100.0 * top3 as f64 / total as f64
        );
        assert!(
            top3 as f64 >= least * total as f64,
            "{set}: only {top3} of {total} in the first three; misses:\n{}",
            misses.join("\n")
        );
    }
}

#[tokio::test]
async fn a_suggestion_names_the_service_and_its_group_and_no_words_is_refused() {
    let app = demo();
    let (status, body) = suggest(&app, "q=streetlight+dark").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["suggestions"][0]["service_code"], "streetlight_out");
    assert_eq!(body["suggestions"][0]["group"], "Traffic & Street Lighting");
    assert!(body["suggestions"].as_array().unwrap().len() <= 5);

    let (status, body) = suggest(&app, "q=the+and+of").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["suggestions"],
        serde_json::json!([]),
        "stop words point nowhere"
    );

    let (status, body) = suggest(&app, "q=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "q");
}
