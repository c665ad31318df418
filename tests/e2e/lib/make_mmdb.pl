#!/usr/bin/perl
# make_mmdb.pl OUT — a tiny country database for the tests, in MaxMind's
# layout (country.iso_code), written with Debian's MaxMind::DB::Writer.
#   203.0.113.0/24 -> VN, 2001:db8::/48 -> JP
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my %types = (country => 'map', iso_code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 24,
    database_type         => 'canh-test-country',
    languages             => ['en'],
    description           => { en => 'canh test country database' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # the test networks are documentation ranges, which it drops by default
    remove_reserved_networks => 0,
);
$tree->insert_network('203.0.113.0/24', { country => { iso_code => 'VN' } });
$tree->insert_network('2001:db8::/48', { country => { iso_code => 'JP' } });
open my $fh, '>:raw', $ARGV[0] or die "cannot write $ARGV[0]: $!";
$tree->write_tree($fh);
close $fh;
