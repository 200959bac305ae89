-- Fails for each account and key table whose newest object is older than stripe_data_lag_error_hours at the
-- account's last load (status error in monitoring.stripe_data_lag). The rows name the account and table.
{{ config(severity='error') }}

select
    account_id,
    table_name,
    status,
    lag_hours,
    newest_created_at,
    last_loaded_at
from {{ ref('stripe_data_lag') }}
where status = 'error'
