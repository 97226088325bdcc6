//! The admin function on Lambda: the staff application at `/admin` over the AWS adapters, with
//! sign-in through Cognito's hosted UI.

use cityfix_admin::{
    admin_router, session, Accounts, Admin, AdminParts, HostedUi, HostedUiSettings,
};
use cityfix_aws::setup::{required, SetupError};
use cityfix_aws::AwsSetup;
use cityfix_http::guard::lambda_front;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let secret = required("ADMIN_SESSION_SECRET")?;
    if secret.len() < 32 {
        return Err(SetupError::Invalid {
            name: "ADMIN_SESSION_SECRET",
            reason: "must be at least 32 characters".into(),
        }
        .into());
    }
    let (keys, csrf_key) = session::keys_from_secret(secret.as_bytes());
    let hosted_ui = HostedUi::new(HostedUiSettings::cognito(
        &required("STAFF_SIGN_IN_URL")?,
        &required("STAFF_TOKEN_AUDIENCE")?,
        &required("ADMIN_CALLBACK_URL")?,
        &required("STAFF_TOKEN_ISSUER")?,
    ));
    let city_dir = std::path::PathBuf::from(required("CITY_CONFIG")?);
    let site = cityfix_config::read_site(&city_dir)?;
    let map = cityfix_admin::CityMap::new(
        &cityfix_config::read_map_layers(&city_dir)?,
        setup.city.center,
        site.tile_url,
        site.tile_attribution,
    );
    let limits = setup.city.rate_limits;
    let admin = Admin::new(AdminParts {
        status: setup.status_deps()?,
        metrics: std::sync::Arc::new(setup.store()?),
        intake: setup.intake_deps()?,
        keys,
        csrf_key,
        accounts: Accounts::default(),
        public_url: setup.public_url.clone(),
    })
    .signing_in_through(hosted_ui)
    .with_map(map);
    lambda_http::run(lambda_front(admin_router(admin), &limits)).await
}
