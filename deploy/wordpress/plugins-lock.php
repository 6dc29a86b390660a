<?php
// Reads plugins.lock: the lines that hold for one WordPress version, one a plugin. Used by
// fetch-plugins.php at image build time and by the tests.

// The lines of the lock for this WordPress version, each ['slug', 'version', 'source',
// 'sha256' (or null)], in the lock's order; an error message (a string) when the lock is wrong.
function portal_lock_entries(string $text, string $wordpress)
{
    if (!preg_match('/^\d+\.\d+(\.\d+)?$/', $wordpress)) {
        return "not a WordPress version: '$wordpress'";
    }
    $entries = [];
    foreach (preg_split('/\R/', $text) as $line) {
        $line = trim($line);
        if ($line === '' || $line[0] === '#') {
            continue;
        }
        $fields = preg_split('/\s+/', $line);
        [$slug, $version, $source] = $fields + [null, null, null];
        if (!preg_match('/^[a-z0-9-]+$/', (string) $slug) || !preg_match('/^[0-9][0-9.]*$/', (string) $version) || $source === null) {
            return "a lock line needs a slug, an exact version and a source: $line";
        }
        $sha256 = null;
        $holds = true;
        foreach (array_slice($fields, 3) as $field) {
            if (preg_match('/^[0-9a-f]{64}$/', $field)) {
                $sha256 = $field;
            } elseif (preg_match('/^wordpress(<|>=)(\d+\.\d+(\.\d+)?)$/', $field, $m)) {
                // One bound a field: 'wordpress>=6.9', 'wordpress<6.9'; both fields for a range.
                $holds = $holds && version_compare($wordpress, $m[2], $m[1]);
            } else {
                return "a lock line's extra field is a SHA-256 or a wordpress<X / wordpress>=X bound: $line";
            }
        }
        if (!$holds) {
            continue;
        }
        if (isset($entries[$slug])) {
            return "two lines of the lock hold for $slug on WordPress $wordpress";
        }
        $entries[$slug] = [$slug, $version, $source, $sha256];
    }
    return array_values($entries);
}
