//! The staff function on Lambda: staff actions on requests over the HTTP API, behind Cognito's JWT
//! authorizer. Built from the status crate, since status is the only writer of a request's state.

use cityfix_aws::setup::required;
use cityfix_aws::AwsSetup;
use cityfix_http::auth::{CognitoTokens, StaffSignIn};
use cityfix_http::guard::lambda_front;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let setup = AwsSetup::from_env().await?;
    let limits = setup.city.rate_limits;
    let staff = status::Staff {
        deps: setup.status_deps()?,
        metrics: std::sync::Arc::new(setup.store()?),
        sign_in: StaffSignIn::ApiGatewayJwt(CognitoTokens {
            issuer: required("STAFF_TOKEN_ISSUER")?,
            audience: required("STAFF_TOKEN_AUDIENCE")?,
        }),
    };
    lambda_http::run(lambda_front(status::staff_router(staff), &limits)).await
}
