<?php
// A tenant WordPress for the tests, under PHP's built-in server: stubs.php, the mu-plugins of
// PORTAL_MU_PLUGINS (a folder, as the install Job writes them), and requests taken as WordPress
// 6.x takes them: wp-admin on its own; on the front controller the user determined at init,
// then the query (rest_route from POST, else GET, else the /wp-json/ path, as WP::parse_request
// ranks them), then rest_api_loaded's REST server: the method after _method or
// X-HTTP-Method-Override, rest_pre_dispatch, the route matched case-insensitively,
// rest_request_before_callbacks, the handler; and 'shutdown' at the end.

require __DIR__ . '/stubs.php';

function answer($status, $data) {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($data);
}

function answer_error($error) {
    $status = is_array($error->data) && isset($error->data['status']) ? $error->data['status'] : 500;
    return answer($status, ['code' => $error->code, 'message' => $error->message]);
}

foreach (glob(getenv('PORTAL_MU_PLUGINS') . '/*.php') as $mu_plugin) {
    require $mu_plugin;
}
// As wp-settings.php does (shutdown_action_hook): 'shutdown' when the request ends, exit included.
register_shutdown_function(function () {
    do_action('shutdown');
});

// A person signed in by cookie stands in as X-Test-User (a user id); core's own filter.
add_filter('determine_current_user', function ($user_id) {
    return isset($_SERVER['HTTP_X_TEST_USER']) ? (int) $_SERVER['HTTP_X_TEST_USER'] : $user_id;
}, 10);

function current_user() {
    $id = get_current_user_id();
    return $id ? get_user_by('id', $id) : false;
}

function not_allowed($code = 'rest_forbidden') {
    return new WP_Error($code, 'Sorry, you are not allowed to do that.', ['status' => 401]);
}

// The REST routes this site has: [methods, pattern, handler].
function rest_routes() {
    return [
        [['POST'], '/wp/v2/posts', function ($request) {
            $user = current_user();
            if (!$user) {
                return new WP_Error('rest_cannot_create', 'Sorry, you are not allowed to create posts as this user.', ['status' => 401]);
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
            return [201, [
                'id' => $post->ID,
                'status' => $post->post_status,
                'link' => get_permalink($post),
                'title' => ['rendered' => $post->post_title],
                'author' => $user->ID,
            ]];
        }],
        [['DELETE'], '/wp/v2/posts/(?P<id>\d+)', function ($request, $id) {
            if (!current_user()) {
                return not_allowed('rest_cannot_delete');
            }
            $state = state();
            $state['posts'] = array_values(array_filter($state['posts'], function ($post) use ($id) {
                return $post['ID'] !== (int) $id;
            }));
            save_state($state);
            return [200, ['deleted' => true]];
        }],
        [['GET'], '/wp/v2/users', function ($request) {
            if (!current_user()) {
                return not_allowed('rest_forbidden_context');
            }
            return [200, array_map(function ($row) {
                return ['id' => $row['ID'], 'slug' => $row['login']];
            }, state()['users'])];
        }],
        [['GET'], '/wp/v2/users/me', function ($request) {
            $user = current_user();
            if (!$user) {
                return new WP_Error('rest_not_logged_in', 'You are not currently logged in.', ['status' => 401]);
            }
            return [200, ['id' => $user->ID, 'slug' => $user->user_login]];
        }],
        [['GET', 'POST'], '/wp/v2/settings', function ($request) {
            if (!current_user()) {
                return not_allowed();
            }
            return [200, ['title' => 'shop']];
        }],
    ];
}

function serve_rest($route) {
    define('REST_REQUEST', true);
    $method = $_SERVER['REQUEST_METHOD'];
    if (isset($_GET['_method'])) {
        $method = $_GET['_method'];
    } elseif (isset($_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'])) {
        $method = $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'];
    }
    $request = new WP_REST_Request($method, $route);
    $server = null;
    $result = apply_filters('rest_pre_dispatch', null, $server, $request);
    if ($result !== null) {
        return is_wp_error($result) ? answer_error($result) : answer(200, $result);
    }
    foreach (rest_routes() as [$methods, $pattern, $handler]) {
        if (!preg_match('@^' . $pattern . '$@i', $route, $matches)) {
            continue;
        }
        if (!in_array($request->get_method(), $methods, true)) {
            continue;
        }
        $response = apply_filters('rest_request_before_callbacks', null, $handler, $request);
        if (is_wp_error($response)) {
            return answer_error($response);
        }
        $params = array_filter($matches, 'is_string', ARRAY_FILTER_USE_KEY);
        $result = $handler($request, ...array_values($params));
        return is_wp_error($result) ? answer_error($result) : answer($result[0], $result[1]);
    }
    answer(404, ['code' => 'rest_no_route', 'message' => 'No route was found matching the URL and request method.']);
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

// wp-admin (and admin-ajax) never parse a front-end query: the dashboard for whoever init
// determined, the login page for nobody.
if (strpos($path, '/wp-admin') === 0 || $path === '/wp-login.php') {
    $user = current_user();
    return $user ? answer(200, ['dashboard' => $user->user_login]) : answer(302, ['location' => '/wp-login.php']);
}

get_current_user_id();  // WP::init(), before the request is parsed

// WP::parse_request for the one query var that matters here.
if (isset($_GET['rest_route'], $_POST['rest_route']) && $_GET['rest_route'] !== $_POST['rest_route']) {
    return answer(400, ['message' => 'A variable mismatch has been detected.']);
}
if (isset($_POST['rest_route'])) {
    $rest_route = $_POST['rest_route'];
} elseif (isset($_GET['rest_route'])) {
    $rest_route = $_GET['rest_route'];
} else {
    $rest_route = null;
    $requested = trim($path, '/');
    foreach ([$requested, urldecode($requested)] as $candidate) {
        if (preg_match('#^wp-json/?$#', $candidate)) {
            $rest_route = '/';
            break;
        }
        if (preg_match('#^wp-json/(.*)?#', $candidate, $matches)) {
            $rest_route = '/' . $matches[1];
            break;
        }
    }
}
$GLOBALS['wp'] = (object) ['query_vars' => ['rest_route' => $rest_route]];

if (!empty($rest_route)) {
    if (!is_string($rest_route)) {
        return answer(400, ['code' => 'rest_path_invalid_type']);
    }
    return serve_rest(untrailingslashit($rest_route) ?: '/');
}
// Any other page: the theme, for whoever is signed in.
$user = current_user();
answer(200, ['page' => $path, 'user' => $user ? $user->user_login : null]);
