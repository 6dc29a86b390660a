<?php
// Written by the tenant portal (content pipeline switched on): bearer tokens of the tenant's
// pipeline client only, for the content API only; a publication by the pipeline is confirmed
// to the portal's signed webhook. Settings come from the environment (the tenant's Secret).

function portal_pipeline_route_allowed() {
    $route = isset($_GET['rest_route']) ? $_GET['rest_route'] : (isset($_SERVER['REQUEST_URI']) ? $_SERVER['REQUEST_URI'] : '');
    foreach (['/wp/v2/posts', '/wp/v2/media', '/wp/v2/categories', '/wp/v2/tags', '/mcp/'] as $prefix) {
        if (strpos($route, $prefix) !== false) {
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
    if (!$id || !$secret) {
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

add_filter('determine_current_user', function ($user_id) {
    $header = isset($_SERVER['HTTP_AUTHORIZATION']) ? $_SERVER['HTTP_AUTHORIZATION'] : '';
    if ($user_id || stripos($header, 'Bearer ') !== 0 || !portal_pipeline_route_allowed()) {
        return $user_id;
    }
    if (!portal_pipeline_token_ok(trim(substr($header, 7)))) {
        return $user_id;
    }
    $user = get_user_by('login', getenv('PIPELINE_USER'));
    return $user ? $user->ID : $user_id;
}, 30);

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
    wp_remote_post($url, [
        'timeout' => 5,
        'blocking' => false,
        'headers' => [
            'Content-Type' => 'application/json',
            'X-Pipeline-Timestamp' => $timestamp,
            'X-Pipeline-Signature' => 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret),
        ],
        'body' => $body,
    ]);
}, 10, 3);
