//! The intake function on Lambda: Open311 and the web API behind the HTTP API.

use std::sync::Arc;

use cityfix_app::ports::{QueueName, RandomIds, SystemClock};
use cityfix_aws::AwsSetup;
use cityfix_http::guard::lambda_front;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let limits = setup.city.rate_limits;
    let intake = intake::Intake {
        deps: setup.intake_deps()?,
        public_url: setup.public_url.clone(),
        media: Arc::new(setup.media()?),
    };
    let preferences = intake::Preferences {
        store: Arc::new(setup.store()?),
        links: setup.link_signer()?,
        clock: Arc::new(SystemClock),
        city: setup.city.short_name.clone(),
        queue: Arc::new(setup.queues(&[QueueName::Notify, QueueName::Status])?),
        residents: setup.city.residents,
    };
    let devices = intake::Devices {
        store: Arc::new(setup.store()?),
        registry: Arc::new(setup.devices()),
        clock: Arc::new(SystemClock),
        city: setup.city.short_name.clone(),
    };
    let city_dir = std::path::PathBuf::from(std::env::var("CITY_CONFIG")?);
    let site = cityfix_config::read_site(&city_dir)?;
    let answers = cityfix_config::read_answers(&city_dir, &site.languages, &setup.city.services)?;
    let answers = intake::AnswerDesk::new(
        answers,
        &site.languages,
        setup.city.clone(),
        Arc::new(setup.store()?),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    );
    // API Gateway cannot stream a response: each holds part of a range and links to the next.
    let open_data = intake::open_data_router(intake::OpenData {
        store: Arc::new(setup.store()?),
        city: setup.city.clone(),
        location_decimals: site.open_data_location_decimals,
        response_size: intake::ResponseSize::Capped(intake::LAMBDA_RESPONSE_BYTES),
    });
    let site = intake::CitySite::new(&setup.city, &site);
    let suggestions = intake::suggest_router(&setup.city.services);
    let routes = intake::router(intake)
        .merge(intake::city_router(site))
        .merge(suggestions)
        .merge(intake::answers_router(answers))
        .merge(intake::unsubscribe_router(preferences))
        .merge(intake::devices_router(devices))
        .merge(open_data);
    lambda_http::run(lambda_front(routes, &limits)).await
}
