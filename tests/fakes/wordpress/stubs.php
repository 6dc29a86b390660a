<?php
// Just enough of WordPress's plugin API, HTTP API, users and posts to run the portal's
// mu-plugins unchanged (router.php serves them; tests run PHP snippets on it). Posts and users
// live in WP_STATE (a JSON file), since every request is a new PHP process.

$GLOBALS['wp_filter'] = [];

function add_filter($hook, $callback, $priority = 10, $accepted_args = 1) {
    $GLOBALS['wp_filter'][$hook][$priority][] = [$callback, $accepted_args];
    return true;
}

function add_action($hook, $callback, $priority = 10, $accepted_args = 1) {
    return add_filter($hook, $callback, $priority, $accepted_args);
}

function apply_filters($hook, $value, ...$args) {
    $callbacks = isset($GLOBALS['wp_filter'][$hook]) ? $GLOBALS['wp_filter'][$hook] : [];
    ksort($callbacks);
    foreach ($callbacks as $at_priority) {
        foreach ($at_priority as [$callback, $accepted]) {
            $value = call_user_func_array($callback, array_slice([$value, ...$args], 0, $accepted));
        }
    }
    return $value;
}

function do_action($hook, ...$args) {
    $callbacks = isset($GLOBALS['wp_filter'][$hook]) ? $GLOBALS['wp_filter'][$hook] : [];
    ksort($callbacks);
    foreach ($callbacks as $at_priority) {
        foreach ($at_priority as [$callback, $accepted]) {
            call_user_func_array($callback, array_slice($args, 0, $accepted));
        }
    }
}

class WP_Error {
    public $code;
    public $message;
    public $data;
    public function __construct($code = '', $message = '', $data = '') {
        $this->code = $code;
        $this->message = $message;
        $this->data = $data;
    }
}

// A REST request as WP_REST_Server makes it: the method (upper case) and the route.
class WP_REST_Request {
    private $method;
    private $route;
    public function __construct($method = '', $route = '') {
        $this->method = strtoupper($method);
        $this->route = $route;
    }
    public function get_method() { return $this->method; }
    public function get_route() { return $this->route; }
}

class WP_User {
    public $ID;
    public $user_login;
    public $roles;
    public function __construct($row) {
        $this->ID = $row['ID'];
        $this->user_login = $row['login'];
        $this->roles = [$row['role']];
    }
    public function set_role($role) {
        $this->roles = [$role];
    }
}

function is_wp_error($thing) { return $thing instanceof WP_Error; }
function wp_json_encode($data) { return json_encode($data); }
function __return_null() { return null; }

// WordPress's HTTP API, on PHP's http stream wrapper. 'blocking' => false is honoured as
// blocking here: the test wants to see what was sent.
function wp_remote_post($url, $args = []) {
    $headers = isset($args['headers']) ? $args['headers'] : [];
    $body = isset($args['body']) ? $args['body'] : '';
    if (is_array($body)) {
        $body = http_build_query($body);
        $headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    $lines = [];
    foreach ($headers as $name => $value) {
        $lines[] = "$name: $value";
    }
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => implode("\r\n", $lines),
        'content' => $body,
        'timeout' => isset($args['timeout']) ? $args['timeout'] : 5,
        'ignore_errors' => true,
    ]]);
    $answer = @file_get_contents($url, false, $context);
    if ($answer === false || empty($http_response_header)) {
        return new WP_Error('http_request_failed', "no answer from $url");
    }
    preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0], $m);
    return ['response' => ['code' => (int) $m[1]], 'body' => $answer];
}

function wp_remote_retrieve_response_code($answer) {
    return is_array($answer) ? $answer['response']['code'] : '';
}

function wp_remote_retrieve_body($answer) {
    return is_array($answer) ? $answer['body'] : '';
}

function state() {
    return json_decode(file_get_contents(getenv('WP_STATE')), true);
}

function save_state($state) {
    file_put_contents(getenv('WP_STATE'), json_encode($state, JSON_PRETTY_PRINT));
}

function get_user_by($field, $value) {
    foreach (state()['users'] as $row) {
        if (($field === 'login' && $row['login'] === $value) || ($field === 'id' && $row['ID'] === (int) $value)) {
            return new WP_User($row);
        }
    }
    return false;
}

// The current user: determined once (core's _wp_get_current_user), then as set.
function get_current_user_id() {
    if (!array_key_exists('current_user_id', $GLOBALS)) {
        $GLOBALS['current_user_id'] = (int) apply_filters('determine_current_user', false);
    }
    return $GLOBALS['current_user_id'];
}

function wp_set_current_user($id) {
    $GLOBALS['current_user_id'] = (int) $id;
}

function untrailingslashit($value) { return rtrim($value, '/\\'); }

function get_the_title($post) { return $post->post_title; }
function get_permalink($post) { return getenv('WP_URL') . '/?p=' . $post->ID; }
