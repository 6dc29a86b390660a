<?php
// A tenant WordPress for the tests, under PHP's built-in server: stubs.php, the mu-plugins of
// PORTAL_MU_PLUGINS (a folder, as the install Job writes them) and the REST posts route.

require __DIR__ . '/stubs.php';

function answer($status, $data) {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($data);
}

foreach (glob(getenv('PORTAL_MU_PLUGINS') . '/*.php') as $mu_plugin) {
    require $mu_plugin;
}

// A person signed in by cookie stands in as X-Test-User (a user id); core's own filter.
add_filter('determine_current_user', function ($user_id) {
    return isset($_SERVER['HTTP_X_TEST_USER']) ? (int) $_SERVER['HTTP_X_TEST_USER'] : $user_id;
}, 10);

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$user_id = (int) apply_filters('determine_current_user', false);
$user = $user_id ? get_user_by('id', $user_id) : false;

if ($path === '/wp-json/wp/v2/posts' && $_SERVER['REQUEST_METHOD'] === 'POST') {
    if (!$user) {
        return answer(401, ['code' => 'rest_cannot_create', 'message' => 'Sorry, you are not allowed to create posts as this user.']);
    }
    $data = json_decode(file_get_contents('php://input'), true) ?: [];
    $state = state();
    $post = (object) [
        'ID' => count($state['posts']) + 1,
        'post_author' => $user->ID,
        'post_title' => (string) ($data['title'] ?? ''),
        'post_content' => (string) ($data['content'] ?? ''),
        'post_status' => (string) ($data['status'] ?? 'draft'),
    ];
    $state['posts'][] = (array) $post;
    save_state($state);
    do_action('transition_post_status', $post->post_status, 'new', $post);
    return answer(201, [
        'id' => $post->ID,
        'status' => $post->post_status,
        'link' => get_permalink($post),
        'title' => ['rendered' => $post->post_title],
        'author' => $user->ID,
    ]);
}
if ($path === '/wp-json/wp/v2/users/me' || $path === '/wp-json/wp/v2/settings') {
    if (!$user) {
        return answer(401, ['code' => 'rest_not_logged_in', 'message' => 'You are not currently logged in.']);
    }
    return answer(200, ['id' => $user->ID, 'slug' => $user->user_login]);
}
answer(404, ['code' => 'rest_no_route', 'message' => 'No route was found matching the URL and request method.']);
