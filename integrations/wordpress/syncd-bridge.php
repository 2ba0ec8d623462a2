<?php
/**
 * Plugin Name:       syncd bridge
 * Description:       Lets the syncd daemon push machine-translated drafts safely: registers the
 *                    syncd_source / syncd_content_hash post meta and the syncd_sha256 media meta
 *                    in the REST API, makes them queryable (?syncd_source=, ?syncd_sha256=), and
 *                    creates the least-privilege "syncd_bot" role.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            syncd
 * License:           Apache-2.0
 *
 * Works as a must-use plugin (drop this single file into wp-content/mu-plugins/) or as a normal
 * plugin (wp-content/plugins/syncd-bridge/syncd-bridge.php, then activate).
 *
 * REST contract (route style: /wp-json/wp/v2/... or ?rest_route=/wp/v2/..., both work):
 *
 *   Post meta (post type "post"; filter syncd_bridge_post_types to add more):
 *     syncd_source        string  syncd's stable source key of item+target (the reconciliation
 *                                 marker: after a crash syncd finds its own draft by this key).
 *     syncd_content_hash  string  hash of what syncd last wrote (to tell editor edits apart).
 *   Attachment meta:
 *     syncd_sha256        string  lowercase hex SHA-256 of the uploaded bytes. Filled in by this
 *                                 plugin on upload (hash of the file as received, before any
 *                                 resizing); a client-supplied value in "meta" overrides it.
 *
 *   GET /wp/v2/posts?syncd_source=<key>&status=draft,pending,publish,private,future
 *     returns exactly the posts whose syncd_source equals <key> (byte-exact, case-sensitive
 *     comparison). Keys are 1-255 characters without leading/trailing whitespace (core's meta
 *     query trims the value, so such keys could not be matched exactly): an empty or padded
 *     key is a 400 rest_invalid_param, never "all posts"; storing a padded key is refused too.
 *     Trashed posts are NOT returned unless "trash" is listed in status (core default);
 *     add ",trash" to see a post an editor trashed.
 *     Core leaves out, silently, every post the caller may not read, and with context=edit every
 *     post the caller may not EDIT (X-WP-Total still counts them). For the bot that means a
 *     draft an editor has published (or trashed after publishing) vanishes from
 *     context=edit results: reconcile with the default context=view, which still carries
 *     id, status, modified_gmt, slug and meta.
 *   GET /wp/v2/media?syncd_sha256=<64 hex>  returns the attachments with that hash.
 *
 * Least-privilege role "syncd_bot": read, edit_posts, upload_files.
 *   NOT publish_posts  -> a bot request with status "publish"/"private"/"future" is refused
 *                         (403 rest_cannot_publish); drafts and "pending" are allowed.
 *   NOT unfiltered_html -> post content goes through kses (<script>, on* attributes stripped).
 *   NOT edit_others_posts / edit_published_posts -> once an editor publishes a draft, the bot
 *                         can no longer overwrite it (403 rest_cannot_edit).
 * The role is created on activation, and on every "init" if it is missing (covers mu-plugin use,
 * where there is no activation). An existing role is left alone, so site admins may tune it.
 *
 * Test-only endpoint: POST /syncd-bridge/v1/test-reset (deletes all posts, pages, media and
 * tags). It is registered only when wp_get_environment_type() is "local" AND the constant
 * SYNCD_BRIDGE_TEST_ENDPOINTS is true, and it requires manage_options.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const SYNCD_BRIDGE_ROLE      = 'syncd_bot';
const SYNCD_BRIDGE_SOURCE    = 'syncd_source';
const SYNCD_BRIDGE_HASH      = 'syncd_content_hash';
const SYNCD_BRIDGE_SHA256    = 'syncd_sha256';
const SYNCD_BRIDGE_MAX_KEY   = 255;
// Non-empty, one line, no leading/trailing whitespace (WP_Meta_Query trims compared values).
// \z, not $: in PCRE "$" also matches before a final newline.
const SYNCD_BRIDGE_KEY_RE    = '^\\S(?:.*\\S)?\\z';

/** Capabilities of the syncd_bot role (and nothing else). */
function syncd_bridge_role_caps() {
	return array(
		'read'         => true,
		'edit_posts'   => true,
		'upload_files' => true,
	);
}

/** Creates the syncd_bot role if it does not exist (idempotent). */
function syncd_bridge_ensure_role() {
	if ( function_exists( 'wp_installing' ) && wp_installing() ) {
		return; // Tables may not exist yet.
	}
	if ( ! get_role( SYNCD_BRIDGE_ROLE ) ) {
		add_role( SYNCD_BRIDGE_ROLE, 'syncd bot', syncd_bridge_role_caps() );
	}
}
register_activation_hook( __FILE__, 'syncd_bridge_ensure_role' );
add_action( 'init', 'syncd_bridge_ensure_role', 1 );

/** Post types that carry syncd_source / syncd_content_hash. */
function syncd_bridge_post_types() {
	return (array) apply_filters( 'syncd_bridge_post_types', array( 'post' ) );
}

/** Meta write permission: whoever may edit posts (the per-post edit_post check is core's). */
function syncd_bridge_meta_auth( $allowed, $meta_key, $object_id, $user_id ) {
	return user_can( $user_id, 'edit_posts' );
}

function syncd_bridge_register_meta() {
	$string_meta = array(
		'type'          => 'string',
		'single'        => true,
		'default'       => '',
		'auth_callback' => 'syncd_bridge_meta_auth',
		'show_in_rest'  => array(
			'schema' => array(
				'type'      => 'string',
				'maxLength' => SYNCD_BRIDGE_MAX_KEY,
				'pattern'   => '^\\z|' . SYNCD_BRIDGE_KEY_RE, // '' clears the value
			),
		),
	);
	foreach ( syncd_bridge_post_types() as $post_type ) {
		register_post_meta(
			$post_type,
			SYNCD_BRIDGE_SOURCE,
			array_merge( $string_meta, array( 'description' => 'syncd source key of item+target' ) )
		);
		register_post_meta(
			$post_type,
			SYNCD_BRIDGE_HASH,
			array_merge( $string_meta, array( 'description' => 'hash of the content syncd last wrote' ) )
		);
	}
	register_post_meta(
		'attachment',
		SYNCD_BRIDGE_SHA256,
		array(
			'type'          => 'string',
			'single'        => true,
			'default'       => '',
			'description'   => 'lowercase hex SHA-256 of the uploaded bytes',
			'auth_callback' => 'syncd_bridge_meta_auth',
			'show_in_rest'  => array(
				'schema' => array(
					'type'    => 'string',
					'pattern' => '^(?:[0-9a-f]{64})?\\z',
				),
			),
		)
	);
}
add_action( 'init', 'syncd_bridge_register_meta' );

/** Hash every new upload as received (before WordPress makes resized copies). */
function syncd_bridge_hash_upload( $attachment_id ) {
	$file = get_attached_file( $attachment_id );
	if ( $file && is_readable( $file ) && '' === (string) get_post_meta( $attachment_id, SYNCD_BRIDGE_SHA256, true ) ) {
		update_post_meta( $attachment_id, SYNCD_BRIDGE_SHA256, hash_file( 'sha256', $file ) );
	}
}
add_action( 'add_attachment', 'syncd_bridge_hash_upload' );

/** Declares a collection query parameter (validated: no empty key, no arrays). */
function syncd_bridge_query_param( $description, $pattern = SYNCD_BRIDGE_KEY_RE ) {
	return array(
		'description'       => $description,
		'type'              => 'string',
		'minLength'         => 1,
		'maxLength'         => SYNCD_BRIDGE_MAX_KEY,
		'pattern'           => $pattern,
		'validate_callback' => 'rest_validate_request_arg',
	);
}

/** Adds an exact (byte-wise, case-sensitive) meta match to a REST collection query. */
function syncd_bridge_meta_clause( $args, $meta_key, $value ) {
	$clause = array(
		'key'     => $meta_key,
		'value'   => (string) $value,
		'compare' => '=',
		// CAST(meta_value AS BINARY): MySQL's default collations would treat "Key" = "key "
		// as equal; the marker must match exactly.
		'type'    => 'BINARY',
	);
	if ( empty( $args['meta_query'] ) || ! is_array( $args['meta_query'] ) ) {
		$args['meta_query'] = array( $clause );
	} else {
		$args['meta_query'] = array( 'relation' => 'AND', $args['meta_query'], $clause );
	}
	return $args;
}

function syncd_bridge_register_query_filters() {
	foreach ( syncd_bridge_post_types() as $post_type ) {
		add_filter(
			"rest_{$post_type}_collection_params",
			function ( $params ) {
				$params[ SYNCD_BRIDGE_SOURCE ] = syncd_bridge_query_param( 'Limit results to posts with this syncd source key.' );
				return $params;
			}
		);
		add_filter(
			"rest_{$post_type}_query",
			function ( $args, $request ) {
				$key = $request->get_param( SYNCD_BRIDGE_SOURCE );
				if ( null !== $key ) {
					$args = syncd_bridge_meta_clause( $args, SYNCD_BRIDGE_SOURCE, $key );
				}
				return $args;
			},
			10,
			2
		);
	}
	add_filter(
		'rest_attachment_collection_params',
		function ( $params ) {
			$params[ SYNCD_BRIDGE_SHA256 ] = syncd_bridge_query_param( 'Limit results to media with this SHA-256 (lowercase hex).', '^[0-9a-f]{64}\\z' );
			return $params;
		}
	);
	add_filter(
		'rest_attachment_query',
		function ( $args, $request ) {
			$sha = $request->get_param( SYNCD_BRIDGE_SHA256 );
			if ( null !== $sha ) {
				$args = syncd_bridge_meta_clause( $args, SYNCD_BRIDGE_SHA256, $sha );
			}
			return $args;
		},
		10,
		2
	);
}
add_action( 'init', 'syncd_bridge_register_query_filters' );

/*
 * Optimistic concurrency for syncd's updates. WordPress has no If-Match, so syncd
 * sends the modified_gmt it saw when it last checked the draft in the header
 * X-Syncd-If-Modified-Gmt. If the post changed since (an editor saved between
 * syncd's check and its write) or is no longer a draft, the update is refused with
 * 412 syncd_precondition_failed and syncd hands the draft over to the editors
 * instead of overwriting their work.
 */
function syncd_bridge_precondition( $result, $server, $request ) {
	if ( null !== $result ) {
		return $result;
	}
	$expected = $request->get_header( 'x_syncd_if_modified_gmt' );
	if ( null === $expected || '' === $expected ) {
		return $result;
	}
	if ( ! in_array( $request->get_method(), array( 'POST', 'PUT', 'PATCH' ), true ) ) {
		return $result;
	}
	if ( ! preg_match( '#^/wp/v2/posts/(\d+)\z#', $request->get_route(), $m ) ) {
		return $result;
	}
	$post = get_post( (int) $m[1] );
	if ( ! $post ) {
		return $result; // core answers 404 rest_post_invalid_id itself
	}
	// as the REST posts controller computes modified_gmt (a draft may have none stored)
	$gmt = $post->post_modified_gmt;
	if ( '0000-00-00 00:00:00' === $gmt ) {
		$gmt = gmdate( 'Y-m-d H:i:s', strtotime( $post->post_modified ) - ( (float) get_option( 'gmt_offset' ) * 3600 ) );
	}
	$current = mysql_to_rfc3339( $gmt );
	if ( 'draft' !== $post->post_status || $current !== $expected ) {
		return new WP_Error(
			'syncd_precondition_failed',
			sprintf( 'post %d changed since syncd last saw it (%s, now %s, status %s)', $post->ID, $expected, $current, $post->post_status ),
			array( 'status' => 412 )
		);
	}
	return $result;
}
add_filter( 'rest_pre_dispatch', 'syncd_bridge_precondition', 10, 3 );

/* ---------------------------------------------------------------- test-only endpoint */

function syncd_bridge_test_endpoints_enabled() {
	return 'local' === wp_get_environment_type()
		&& defined( 'SYNCD_BRIDGE_TEST_ENDPOINTS' ) && true === SYNCD_BRIDGE_TEST_ENDPOINTS;
}

/** Deletes every post, page, attachment (with files) and tag. Returns counts. */
function syncd_bridge_test_reset() {
	global $wpdb;
	$counts = array( 'posts' => 0, 'attachments' => 0, 'terms' => 0 );
	$ids    = $wpdb->get_col( "SELECT ID FROM {$wpdb->posts} WHERE post_type = 'attachment'" );
	foreach ( $ids as $id ) {
		if ( wp_delete_attachment( (int) $id, true ) ) {
			++$counts['attachments'];
		}
	}
	$ids = $wpdb->get_col( "SELECT ID FROM {$wpdb->posts} WHERE post_type NOT IN ('attachment', 'revision')" );
	foreach ( $ids as $id ) {
		if ( wp_delete_post( (int) $id, true ) ) {
			++$counts['posts'];
		}
	}
	// Leftovers (orphan revisions/autosaves).
	$wpdb->query( "DELETE FROM {$wpdb->posts} WHERE post_type = 'revision'" );
	$wpdb->query( "DELETE pm FROM {$wpdb->postmeta} pm LEFT JOIN {$wpdb->posts} p ON p.ID = pm.post_id WHERE p.ID IS NULL" );
	$terms = get_terms( array( 'taxonomy' => 'post_tag', 'hide_empty' => false, 'fields' => 'ids' ) );
	if ( is_array( $terms ) ) {
		foreach ( $terms as $term_id ) {
			if ( true === wp_delete_term( (int) $term_id, 'post_tag' ) ) {
				++$counts['terms'];
			}
		}
	}
	$default_cat = (int) get_option( 'default_category' );
	$cats        = get_terms( array( 'taxonomy' => 'category', 'hide_empty' => false, 'fields' => 'ids', 'exclude' => array( $default_cat ) ) );
	if ( is_array( $cats ) ) {
		foreach ( $cats as $term_id ) {
			if ( true === wp_delete_term( (int) $term_id, 'category' ) ) {
				++$counts['terms'];
			}
		}
	}
	wp_cache_flush();
	return $counts;
}

add_action(
	'rest_api_init',
	function () {
		if ( ! syncd_bridge_test_endpoints_enabled() ) {
			return;
		}
		register_rest_route(
			'syncd-bridge/v1',
			'/test-reset',
			array(
				'methods'             => 'POST',
				'permission_callback' => function () {
					return current_user_can( 'manage_options' );
				},
				'callback'            => function () {
					return rest_ensure_response( syncd_bridge_test_reset() );
				},
			)
		);
	}
);
