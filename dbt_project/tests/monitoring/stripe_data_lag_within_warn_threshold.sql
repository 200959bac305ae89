-- Warns for each account and key table whose newest object is older than stripe_data_lag_warn_hours at the
-- account's last load (status warn or error in monitoring.stripe_data_lag): that table may have stopped
-- loading, or the account has gone quiet. The rows name the account and table.
{{ config(severity='warn') }}

select
    account_id,
    table_name,
    status,
    lag_hours,
    newest_created_at,
    last_loaded_at
from {{ ref('stripe_data_lag') }}
where status in ('warn', 'error')
