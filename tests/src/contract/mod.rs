//! Port contract suites: the same cases run against every adapter of a port.

pub mod media;
pub mod metrics;
pub mod queue;
pub mod store;

/// Declares one test per store contract case for an adapter; `$make` is an async block that
/// yields a fresh, empty store.
#[macro_export]
macro_rules! store_contract {
    ($make:expr) => {
        $crate::store_contract!(@cases $make;
            create_then_read_back, a_taken_tracking_number_is_refused_whole, an_idempotency_key_replays,
            search_by_update_time_finds_requests_made_long_before,
            an_expired_idempotency_key_is_forgotten, a_stale_version_is_a_conflict, a_request_holding_the_most_files_takes_no_more, a_change_is_applied_once,
            search_filters_and_pages_newest_first, stuck_submitted_lists_only_old_submitted, a_department_queue_pages_oldest_first,
            a_marked_queue_holds_only_the_marked_requests_of_the_whole_queue_in_its_order, a_delivery_is_claimed_once, a_channel_turned_off_stays_off_for_that_recipient_only,
            a_send_is_claimed_once_taken_over_after_its_lease_and_never_after_it_went_out,
            near_finds_requests_within_the_circle_by_cell, followers_are_added_once_and_removed_by_the_report_they_came_through, a_follower_who_asked_is_confirmed_once_and_removed_alone,
            an_audit_record_is_written_with_its_change_and_read_by_request_actor_and_time, a_staff_key_is_claimed_once_and_tells_its_first_fingerprint, fixes_are_recorded_once_and_read_newest_first_within_the_window, backlogs_are_saved_changed_and_listed_oldest_first,
            overdue_lists_worked_requests_past_their_date_until_noticed, closed_before_lists_closed_requests_until_archived,
            closed_between_lists_the_closings_of_a_window_earliest_first, a_survey_answer_is_kept_once_per_closing_the_latest_replacing, a_device_is_saved_once_and_read_by_its_id,
            an_information_request_is_saved_once_and_read_by_its_tracking_number,
            unanswered_information_requests_page_oldest_first_and_an_answer_is_recorded_once,
            a_moderated_request_keeps_its_marks_and_public_searches_leave_hidden_ones_out,
            forgetting_contacts_keeps_the_request_and_its_timeline,
            requests_about_an_asset_are_found_wherever_they_are_and_by_layer_and_id,
            requests_made_in_a_range_are_read_oldest_first_a_page_at_a_time_across_months);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::store::$case(store.as_ref()).await;
            }
        )*
    };
}

/// Declares one test per queue contract case; `$make` is an async block that takes a
/// visibility timeout in milliseconds and a maximum receive count, and yields a fresh queue.
#[macro_export]
macro_rules! queue_contract {
    ($make:expr) => {
        $crate::queue_contract!(@cases $make;
            a_sent_message_is_received_once_and_deleted, an_unacknowledged_message_comes_back_after_the_timeout,
            a_message_received_too_often_goes_to_the_dead_letter_queue, a_redelivered_message_is_deleted_by_its_latest_receipt, queues_are_separate,
            a_batch_is_sent_whole, a_delayed_message_is_received_only_after_its_delay,
            dead_letters_are_listed_and_redriven_to_be_handled_again);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::queue::$case(&$make).await;
            }
        )*
    };
}

/// Declares one test per media contract case; `$make` is an async block that yields a fresh,
/// empty media store (and, for files, a server that answers its forms and links).
#[macro_export]
macro_rules! media_contract {
    ($make:expr) => {
        $crate::media_contract!(@cases $make;
            a_file_is_put_read_and_deleted, a_stored_file_is_never_replaced, a_browser_uploads_with_the_form, a_form_refuses_a_file_over_its_size,
            a_form_refuses_a_changed_field, a_link_reads_the_file, a_changed_link_is_refused,
            the_keys_of_a_folder_are_listed_in_order);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let media = $make.await;
                $crate::contract::media::$case(media.as_ref()).await;
            }
        )*
    };
}

/// Declares one test per metrics store contract case; `$make` is an async block that yields a
/// fresh, empty metrics store.
#[macro_export]
macro_rules! metrics_contract {
    ($make:expr) => {
        $crate::metrics_contract!(@cases $make;
            tallies_add_up_per_row_and_an_event_counts_once,
            one_event_moves_several_rows_all_or_nothing_and_days_bound_the_read,
            a_rising_flag_is_held_once_per_service_area_and_week);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let metrics = $make.await;
                $crate::contract::metrics::$case(metrics.as_ref()).await;
            }
        )*
    };
}
