<?php
// Written by the tenant portal (content pipeline switched on): the content abilities the
// pipeline uses over MCP (create and update its posts, upload media, list categories and tags),
// and the MCP server kept to the pipeline. portal-pipeline.php signs the pipeline in.

// Everything here is for the pipeline signed in by its token in this request, and no one else:
// not a person signed in by cookie or application password, whatever their role.
function portal_pipeline_only() {
    return !empty($GLOBALS['portal_pipeline_signed_in']);
}

// The MCP adapter's routes (namespace mcp; its default server lets in any user with `read`)
// answer the pipeline only.
add_filter('rest_request_before_callbacks', function ($response, $handler, $request) {
    if (is_wp_error($response) || portal_pipeline_only() || !preg_match('#^/mcp(/|\z)#i', $request->get_route())) {
        return $response;
    }
    return new WP_Error('rest_forbidden', 'The MCP server serves the content pipeline only.', ['status' => 403]);
}, 20, 3);

// Publishing needs publish_posts, a draft or a pending post only edit rights.
function portal_pipeline_may_set_status($input) {
    return !isset($input['status']) || $input['status'] !== 'publish' || current_user_can('publish_posts');
}

function portal_pipeline_may_create($input = null) {
    return portal_pipeline_only() && current_user_can('edit_posts') && portal_pipeline_may_set_status($input);
}

// A post it may edit (an author: its own).
function portal_pipeline_may_edit($input = null) {
    return portal_pipeline_only() && is_array($input) && isset($input['id'])
        && current_user_can('edit_post', (int) $input['id']) && portal_pipeline_may_set_status($input);
}

function portal_pipeline_create_post($input) {
    $fields = portal_pipeline_post_fields($input) + ['post_status' => 'draft', 'post_type' => 'post'];
    $fields['post_author'] = get_current_user_id();
    return portal_pipeline_post_answer(wp_insert_post($fields, true));
}

function portal_pipeline_update_post($input) {
    $fields = portal_pipeline_post_fields($input);
    $fields['ID'] = (int) $input['id'];
    return portal_pipeline_post_answer(wp_update_post($fields, true));
}

function portal_pipeline_post_fields($input) {
    $fields = [];
    foreach (['title' => 'post_title', 'content' => 'post_content', 'excerpt' => 'post_excerpt'] as $key => $field) {
        if (isset($input[$key])) {
            $fields[$field] = (string) $input[$key];
        }
    }
    if (isset($input['status'])) {
        $fields['post_status'] = $input['status'];
    }
    if (isset($input['categories'])) {
        $fields['post_category'] = array_map('intval', (array) $input['categories']);
    }
    if (isset($input['tags'])) {
        $fields['tags_input'] = array_map('intval', (array) $input['tags']);
    }
    return $fields;
}

function portal_pipeline_post_answer($id) {
    if (is_wp_error($id)) {
        return $id;
    }
    $post = get_post($id);
    return ['id' => (int) $id, 'status' => $post->post_status, 'link' => get_permalink($post)];
}

function portal_pipeline_terms($taxonomy) {
    $terms = get_terms(['taxonomy' => $taxonomy, 'hide_empty' => false, 'number' => 500]);
    if (is_wp_error($terms)) {
        return $terms;
    }
    return array_map(function ($term) {
        return ['id' => (int) $term->term_id, 'name' => $term->name, 'slug' => $term->slug];
    }, $terms);
}

// An upload: a file name WordPress allows (by its extension, for this user), its bytes in
// base64, at most PORTAL_PIPELINE_MEDIA_MAX bytes.
function portal_pipeline_upload($input) {
    $name = sanitize_file_name((string) $input['filename']);
    $type = wp_check_filetype($name);
    if ($name === '' || empty($type['type'])) {
        return new WP_Error('portal_media_type', 'This kind of file may not be uploaded.', ['status' => 400]);
    }
    $bytes = base64_decode((string) $input['data'], true);
    if ($bytes === false || $bytes === '') {
        return new WP_Error('portal_media_data', 'The file is not valid base64.', ['status' => 400]);
    }
    if (strlen($bytes) > 10 * 1024 * 1024) {
        return new WP_Error('portal_media_size', 'The file is larger than 10 MB.', ['status' => 413]);
    }
    $saved = wp_upload_bits($name, null, $bytes);
    if (!empty($saved['error'])) {
        return new WP_Error('portal_media_saved', (string) $saved['error'], ['status' => 500]);
    }
    $id = wp_insert_attachment([
        'post_title' => isset($input['title']) ? (string) $input['title'] : pathinfo($name, PATHINFO_FILENAME),
        'post_mime_type' => $type['type'],
        'post_status' => 'inherit',
        'post_author' => get_current_user_id(),
    ], $saved['file'], 0, true);
    if (is_wp_error($id)) {
        return $id;
    }
    return ['id' => (int) $id, 'url' => $saved['url'], 'mime_type' => $type['type']];
}

add_action('wp_abilities_api_categories_init', function () {
    wp_register_ability_category('portal-content', [
        'label' => 'Content',
        'description' => 'Posts, media and terms for the content pipeline.',
    ]);
});

add_action('wp_abilities_api_init', function () {
    $post_input = [
        'title' => ['type' => 'string', 'minLength' => 1],
        'content' => ['type' => 'string'],
        'excerpt' => ['type' => 'string'],
        'status' => ['type' => 'string', 'enum' => ['draft', 'pending', 'publish']],
        'categories' => ['type' => 'array', 'items' => ['type' => 'integer']],
        'tags' => ['type' => 'array', 'items' => ['type' => 'integer']],
    ];
    $post_output = [
        'type' => 'object',
        'properties' => ['id' => ['type' => 'integer'], 'status' => ['type' => 'string'], 'link' => ['type' => 'string']],
    ];
    $mcp = ['mcp' => ['public' => true, 'type' => 'tool']];
    wp_register_ability('portal/create-post', [
        'label' => 'Create a post',
        'description' => 'Writes a new post as the content pipeline (a draft unless status says otherwise).',
        'category' => 'portal-content',
        'input_schema' => ['type' => 'object', 'properties' => $post_input, 'required' => ['title', 'content'], 'additionalProperties' => false],
        'output_schema' => $post_output,
        'permission_callback' => 'portal_pipeline_may_create',
        'execute_callback' => 'portal_pipeline_create_post',
        'meta' => $mcp + ['annotations' => ['readonly' => false, 'destructive' => false, 'idempotent' => false]],
    ]);
    wp_register_ability('portal/update-post', [
        'label' => 'Update a post',
        'description' => 'Changes a post of the content pipeline: title, content, excerpt, status, terms.',
        'category' => 'portal-content',
        'input_schema' => ['type' => 'object', 'properties' => ['id' => ['type' => 'integer', 'minimum' => 1]] + $post_input, 'required' => ['id'], 'additionalProperties' => false],
        'output_schema' => $post_output,
        'permission_callback' => 'portal_pipeline_may_edit',
        'execute_callback' => 'portal_pipeline_update_post',
        'meta' => $mcp + ['annotations' => ['readonly' => false, 'destructive' => false, 'idempotent' => true]],
    ]);
    wp_register_ability('portal/upload-media', [
        'label' => 'Upload media',
        'description' => 'Adds a file (base64) to the media library, as the content pipeline.',
        'category' => 'portal-content',
        'input_schema' => [
            'type' => 'object',
            'properties' => [
                'filename' => ['type' => 'string', 'minLength' => 1, 'maxLength' => 200],
                'data' => ['type' => 'string', 'minLength' => 1],
                'title' => ['type' => 'string'],
            ],
            'required' => ['filename', 'data'],
            'additionalProperties' => false,
        ],
        'output_schema' => ['type' => 'object', 'properties' => ['id' => ['type' => 'integer'], 'url' => ['type' => 'string'], 'mime_type' => ['type' => 'string']]],
        'permission_callback' => function ($input = null) {
            return portal_pipeline_only() && current_user_can('upload_files');
        },
        'execute_callback' => 'portal_pipeline_upload',
        'meta' => $mcp + ['annotations' => ['readonly' => false, 'destructive' => false, 'idempotent' => false]],
    ]);
    foreach (['category' => ['portal/list-categories', 'List categories'], 'post_tag' => ['portal/list-tags', 'List tags']] as $taxonomy => [$name, $label]) {
        wp_register_ability($name, [
            'label' => $label,
            'description' => "$label of the site: id, name, slug.",
            'category' => 'portal-content',
            'output_schema' => ['type' => 'array', 'items' => ['type' => 'object']],
            'permission_callback' => 'portal_pipeline_only',
            'execute_callback' => function () use ($taxonomy) {
                return portal_pipeline_terms($taxonomy);
            },
            'meta' => $mcp + ['annotations' => ['readonly' => true, 'destructive' => false, 'idempotent' => true]],
        ]);
    }
});
