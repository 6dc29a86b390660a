<?php
// Fetches the plugins of plugins.lock at their pinned versions into <dest>/<slug>/, each checked
// against its publisher's checksums: WordPress.org's per-file SHA-256 for that version (what
// `wp plugin verify-checksums` uses), or the digest GitHub publishes for a release asset; plus
// the zip's SHA-256 when the lock gives one; only the lock's lines that hold for the image's
// WordPress version (plugins-lock.php). Usage: php fetch-plugins.php <lock> <dest> <wordpress>

require __DIR__ . '/plugins-lock.php';

function fail(string $why): never
{
    fwrite(STDERR, "fetch-plugins: $why\n");
    exit(1);
}

function fetch(string $url, array $headers = []): string
{
    $context = stream_context_create(['http' => [
        'header' => array_merge(['User-Agent: tenant-portal-image-build'], $headers),
        'timeout' => 60,
        'ignore_errors' => true,
    ]]);
    $body = @file_get_contents($url, false, $context);
    $status = isset($http_response_header[0]) ? $http_response_header[0] : 'no answer';
    if ($body === false || !preg_match('#^HTTP/\S+ 200#', $status)) {
        fail("$url: $status");
    }
    return $body;
}

function unpack_zip(string $zip, string $dest, string $slug): string
{
    $archive = new ZipArchive();
    if ($archive->open($zip) !== true) {
        fail("$slug: not a zip archive");
    }
    for ($i = 0; $i < $archive->numFiles; $i++) {
        $name = $archive->getNameIndex($i);
        if (strpos($name, "$slug/") !== 0 || strpos($name, '..') !== false) {
            fail("$slug: the archive holds $name, outside $slug/");
        }
    }
    $archive->extractTo($dest);
    $archive->close();
    return "$dest/$slug";
}

function verify_wordpress_org(string $dir, string $slug, string $version): void
{
    $json = fetch("https://downloads.wordpress.org/plugin-checksums/$slug/$version.json");
    $files = json_decode($json, true)['files'] ?? null;
    if (!is_array($files) || !$files) {
        fail("$slug $version: WordPress.org publishes no checksums");
    }
    $bad = [];
    foreach ($files as $path => $sums) {
        $want = (array) ($sums['sha256'] ?? []);
        if (!is_file("$dir/$path") || !in_array(hash_file('sha256', "$dir/$path"), $want, true)) {
            $bad[] = $path;
        }
    }
    $all = new RecursiveIteratorIterator(
        new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS)
    );
    foreach ($all as $file) {
        $path = substr($file->getPathname(), strlen($dir) + 1);
        if (!isset($files[$path])) {
            $bad[] = "$path (not published)";
        }
    }
    if ($bad) {
        fail("$slug $version differs from WordPress.org's checksums: " . implode(', ', array_slice($bad, 0, 10)));
    }
}

function github_digest(string $repo, string $version, string $asset): string
{
    $release = json_decode(
        fetch("https://api.github.com/repos/$repo/releases/tags/v$version", ['Accept: application/vnd.github+json']),
        true
    );
    foreach ($release['assets'] ?? [] as $found) {
        if (($found['name'] ?? '') === $asset && preg_match('/^sha256:([0-9a-f]{64})$/', $found['digest'] ?? '', $m)) {
            return $m[1];
        }
    }
    fail("$repo v$version: no SHA-256 digest published for $asset");
}

[$_, $lock, $dest, $wordpress] = $argv + [null, null, null, null];
if (!$lock || !$dest || !$wordpress) {
    fail('usage: php fetch-plugins.php <lock> <dest> <wordpress version>');
}
$entries = portal_lock_entries((string) file_get_contents($lock), $wordpress);
if (is_string($entries)) {
    fail($entries);
}
@mkdir($dest, 0755, true);
foreach ($entries as [$slug, $version, $source, $pinned]) {
    if ($source === 'wordpress.org') {
        $zip = fetch("https://downloads.wordpress.org/plugin/$slug.$version.zip");
    } elseif (preg_match('#^github:([\w.-]+/[\w.-]+)$#', (string) $source, $m)) {
        $zip = fetch("https://github.com/{$m[1]}/releases/download/v$version/$slug.zip");
        if (hash('sha256', $zip) !== github_digest($m[1], $version, "$slug.zip")) {
            fail("$slug $version: the zip is not the one GitHub's digest names");
        }
    } else {
        fail("$slug: unknown source $source");
    }
    if ($pinned !== null && hash('sha256', $zip) !== $pinned) {
        fail("$slug $version: the zip's SHA-256 is not the one in the lock");
    }
    $file = tempnam(sys_get_temp_dir(), $slug);
    file_put_contents($file, $zip);
    $dir = unpack_zip($file, $dest, $slug);
    unlink($file);
    if ($source === 'wordpress.org') {
        verify_wordpress_org($dir, $slug, $version);
    }
    // The install Job compares it with the copy in the site's wp-content to update in place.
    file_put_contents("$dir/.portal-version", "$version\n");
    echo "$slug $version: verified\n";
}
