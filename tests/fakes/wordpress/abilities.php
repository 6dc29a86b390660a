<?php
// The Abilities API's registration functions (as the abilities-api plugin and WordPress 6.9
// define them) and the posts, terms, capabilities and uploads the pipeline's abilities call,
// just enough to run portal-pipeline-abilities.php; after stubs.php. Posts live in WP_STATE.

$GLOBALS['abilities'] = [];
$GLOBALS['ability_categories'] = [];
$GLOBALS['terms'] = [
    'category' => [['term_id' => 1, 'name' => 'Uncategorized', 'slug' => 'uncategorized']],
    'post_tag' => [['term_id' => 7, 'name' => 'Solar', 'slug' => 'solar']],
];

function wp_register_ability_category($slug, $args) {
    $GLOBALS['ability_categories'][$slug] = $args;
}

function wp_register_ability($name, $args) {
    if (!isset($GLOBALS['ability_categories'][$args['category'] ?? ''])) {
        throw new Exception("$name: unknown category");
    }
    $GLOBALS['abilities'][$name] = $args;
}

// As WP_Ability::execute does: the permission callback, then the execute callback.
function run_ability($name, $input = null) {
    $ability = $GLOBALS['abilities'][$name];
    if (!call_user_func($ability['permission_callback'], $input)) {
        return new WP_Error('ability_invalid_permissions', "no permission for $name", ['status' => 403]);
    }
    return call_user_func($ability['execute_callback'], $input);
}

// Core's roles, as far as these abilities ask.
function current_user_can($capability, ...$args) {
    $user = get_user_by('id', get_current_user_id());
    if (!$user) {
        return false;
    }
    $role = $user->roles[0];
    if ($capability === 'edit_post') {
        $post = get_post($args[0]);
        return $post && ($role !== 'author' || (int) $post->post_author === $user->ID);
    }
    $caps = [
        'administrator' => ['read', 'edit_posts', 'publish_posts', 'upload_files'],
        'editor' => ['read', 'edit_posts', 'publish_posts', 'upload_files'],
        'author' => ['read', 'edit_posts', 'publish_posts', 'upload_files'],
    ];
    return in_array($capability, $caps[$role] ?? [], true);
}

function get_post($id) {
    foreach (state()['posts'] as $row) {
        if ($row['ID'] === (int) $id) {
            return (object) $row;
        }
    }
    return null;
}

function wp_insert_post($fields, $wp_error = false) {
    $state = state();
    $id = count($state['posts']) + 1;
    $state['posts'][] = ['ID' => $id] + $fields;
    save_state($state);
    return $id;
}

function wp_update_post($fields, $wp_error = false) {
    $state = state();
    foreach ($state['posts'] as $i => $row) {
        if ($row['ID'] === $fields['ID']) {
            $state['posts'][$i] = $fields + $row;
            save_state($state);
            return $fields['ID'];
        }
    }
    return new WP_Error('invalid_post', 'Invalid post ID.');
}

function wp_insert_attachment($fields, $file, $parent = 0, $wp_error = false) {
    return wp_insert_post($fields + ['post_type' => 'attachment', 'file' => $file]);
}

function get_terms($args) {
    return array_map(function ($row) { return (object) $row; }, $GLOBALS['terms'][$args['taxonomy']]);
}

function sanitize_file_name($name) {
    return preg_replace('/[^A-Za-z0-9._-]/', '', basename($name));
}

// WordPress's default upload types, the few the tests need.
function wp_check_filetype($name) {
    $types = ['jpg' => 'image/jpeg', 'png' => 'image/png', 'pdf' => 'application/pdf'];
    $ext = strtolower(pathinfo($name, PATHINFO_EXTENSION));
    return ['ext' => isset($types[$ext]) ? $ext : false, 'type' => $types[$ext] ?? false];
}

function wp_upload_bits($name, $deprecated, $bits) {
    $file = dirname(getenv('WP_STATE')) . '/' . $name;
    file_put_contents($file, $bits);
    return ['file' => $file, 'url' => getenv('WP_URL') . '/wp-content/uploads/' . $name, 'error' => false];
}
