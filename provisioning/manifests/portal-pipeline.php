<?php
// Written by the tenant portal (content pipeline switched on): bearer tokens of the tenant's
// pipeline client only, for the content API only; a publication by the pipeline is confirmed
// to the portal's signed webhook. Settings come from the environment (the tenant's Secret).

// What the pipeline's token opens: a method and a whole route, matched against the route the
// REST server dispatches (case-insensitive, as it matches its own routes; \z so a trailing
// newline is no way round). Its own posts, media uploads, the terms to file them under, and
// the MCP server.
function portal_pipeline_routes() {
    return [
        ['POST', '#^/wp/v2/posts\z#i'],
        ['POST', '#^/wp/v2/posts/\d+\z#i'],
        ['PUT', '#^/wp/v2/posts/\d+\z#i'],
        ['PATCH', '#^/wp/v2/posts/\d+\z#i'],
        ['POST', '#^/wp/v2/media\z#i'],
        ['GET', '#^/wp/v2/categories\z#i'],
        ['GET', '#^/wp/v2/tags\z#i'],
        ['POST', '#^/mcp/mcp-adapter-default-server\z#i'],
    ];
}

function portal_pipeline_route_allowed($request) {
    $method = $request->get_method();
    $route = $request->get_route();
    foreach (portal_pipeline_routes() as [$allowed, $pattern]) {
        if ($method === $allowed && preg_match($pattern, $route)) {
            return true;
        }
    }
    return false;
}

// Authentik's introspection endpoint answers for tokens of the calling client only, so a token
// issued to any other client (another tenant's, a person's) is not active here.
function portal_pipeline_token_ok($token) {
    $id = getenv('PIPELINE_CLIENT_ID');
    $secret = getenv('PIPELINE_CLIENT_SECRET');
    if (!$id || !$secret || $token === '') {
        return false;
    }
    $answer = wp_remote_post(getenv('OIDC_BASE_URL') . '/application/o/introspect/', [
        'timeout' => 5,
        'headers' => ['Authorization' => 'Basic ' . base64_encode($id . ':' . $secret)],
        'body' => ['token' => $token],
    ]);
    if (is_wp_error($answer) || wp_remote_retrieve_response_code($answer) !== 200) {
        return false;
    }
    $claims = json_decode(wp_remote_retrieve_body($answer), true);
    if (empty($claims['active'])) {
        return false;
    }
    $aud = isset($claims['aud']) ? (array) $claims['aud'] : [];
    return (isset($claims['client_id']) && $claims['client_id'] === $id) || in_array($id, $aud, true);
}

// Whether this request's pipeline user was signed in by its token (then every route it reaches
// is held to the list, embeds and batches included).
$GLOBALS['portal_pipeline_signed_in'] = false;

// Not determine_current_user: that runs at init, before WordPress has parsed the request, when
// only the raw URI is known (a query string, wp-admin with ?rest_route=, ... look alike). Here
// the REST server is dispatching, and the request it made is the one it will serve: its route
// (from the /wp-json/ path or rest_route, whichever WordPress took) and its method (after
// _method and X-HTTP-Method-Override). Only the request this HTTP request is for, not one a
// plugin dispatches internally.
add_filter('rest_pre_dispatch', function ($result, $server, $request) {
    $header = isset($_SERVER['HTTP_AUTHORIZATION']) ? $_SERVER['HTTP_AUTHORIZATION'] : '';
    $main = isset($GLOBALS['wp']->query_vars['rest_route']) ? $GLOBALS['wp']->query_vars['rest_route'] : null;
    if ($result !== null || !defined('REST_REQUEST') || !REST_REQUEST || !is_string($main)
        || get_current_user_id() || stripos($header, 'Bearer ') !== 0
        || $request->get_route() !== (untrailingslashit($main) ?: '/')
        || !portal_pipeline_route_allowed($request)
        || !portal_pipeline_token_ok(trim(substr($header, 7)))) {
        return $result;
    }
    $user = get_user_by('login', getenv('PIPELINE_USER'));
    if ($user) {
        wp_set_current_user($user->ID);
        $GLOBALS['portal_pipeline_signed_in'] = true;
    }
    return $result;
}, 10, 3);

// Every handler the signed-in pipeline reaches (the request's own, and any it embeds or a batch
// carries) must be on the list.
add_filter('rest_request_before_callbacks', function ($response, $handler, $request) {
    if (!$GLOBALS['portal_pipeline_signed_in'] || portal_pipeline_route_allowed($request)) {
        return $response;
    }
    return new WP_Error('rest_forbidden', 'The content pipeline may not use this route.', ['status' => 403]);
}, 10, 3);

// A publication by the pipeline is confirmed when the request ends (the post saved with its
// terms by then), each signed once. One the portal can't take just now (no connection, 502-504)
// is sent again as it was, the same timestamp and signature: the portal takes a signature once
// (a repeat is 409: taken before, by an attempt whose answer was lost) while its timestamp is
// within its tolerance (300 s by default). Blocking, and within the request: the pipeline waits
// for this request's answer 20 s, so the attempts stay within PORTAL_PIPELINE_CONFIRM_BUDGET.
const PORTAL_PIPELINE_CONFIRM_ATTEMPTS = 3;
const PORTAL_PIPELINE_CONFIRM_TIMEOUT = 3;    // seconds an attempt may take
const PORTAL_PIPELINE_CONFIRM_BACKOFF = 0.5;  // seconds before the second attempt, doubled after
const PORTAL_PIPELINE_CONFIRM_BUDGET = 12;    // seconds: 3 attempts of 3 s and 0.5 + 1 s between

$GLOBALS['portal_pipeline_confirmations'] = [];

add_action('transition_post_status', function ($new, $old, $post) {
    $url = getenv('PIPELINE_WEBHOOK_URL');
    $secret = getenv('PIPELINE_WEBHOOK_SECRET');
    $user = get_user_by('login', getenv('PIPELINE_USER'));
    if ($new !== 'publish' || $old === 'publish' || !$url || !$secret || !$user
        || (int) $post->post_author !== (int) $user->ID) {
        return;
    }
    $body = wp_json_encode([
        'tenant' => getenv('PIPELINE_TENANT'),
        'post_id' => $post->ID,
        'title' => get_the_title($post),
        'url' => get_permalink($post),
    ]);
    $timestamp = (string) time();
    $GLOBALS['portal_pipeline_confirmations'][] = [$body, [
        'Content-Type' => 'application/json',
        'X-Pipeline-Timestamp' => $timestamp,
        'X-Pipeline-Signature' => 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret),
    ]];
}, 10, 3);

add_action('shutdown', function () {
    $started = microtime(true);
    foreach ($GLOBALS['portal_pipeline_confirmations'] as [$body, $headers]) {
        portal_pipeline_confirm(getenv('PIPELINE_WEBHOOK_URL'), $body, $headers, $started);
    }
    $GLOBALS['portal_pipeline_confirmations'] = [];
});

// Whether the portal took the confirmation (or refused it for good: nothing to try again).
function portal_pipeline_confirm($url, $body, $headers, $started) {
    $delay = PORTAL_PIPELINE_CONFIRM_BACKOFF;
    for ($attempt = 1; ; $attempt++) {
        $answer = wp_remote_post($url, [
            'timeout' => PORTAL_PIPELINE_CONFIRM_TIMEOUT,
            'headers' => $headers,
            'body' => $body,
        ]);
        $status = is_wp_error($answer) ? 0 : (int) wp_remote_retrieve_response_code($answer);
        if ($status === 200 || $status === 409) {
            return true;
        }
        if (!in_array($status, [0, 502, 503, 504], true)) {
            error_log("portal-pipeline: the portal refused the confirmation ($status)");
            return false;
        }
        $spent = microtime(true) - $started;
        if ($attempt >= PORTAL_PIPELINE_CONFIRM_ATTEMPTS
            || $spent + $delay + PORTAL_PIPELINE_CONFIRM_TIMEOUT > PORTAL_PIPELINE_CONFIRM_BUDGET) {
            $said = $status ? "HTTP $status" : 'no answer';
            error_log("portal-pipeline: the portal did not take the confirmation after $attempt attempts ($said)");
            return false;
        }
        usleep((int) ($delay * 1000000));
        $delay *= 2;
    }
}
