using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// Look before fetching (issue 26): a copy task's tree is listed beside its stopped box and compared with the host's checkout,
/// so only what changed is fetched, and a file over max_file_bytes is reported without a byte of it read. The listing is the
/// agent's (every name is), so it is parsed as untrusted input.
/// </summary>
public sealed class TreeLookTests
{
    private static readonly TaskLimits Limits = new(MaxTreeBytes: 1_000_000, MaxFiles: 100, MaxFileBytes: 10_000, MaxPatchBytes: 1_000_000, MaxLogBytes: 1_000_000);
    private static readonly FileTime Uploaded = FileTime.Of(TreeArchiveWriter.CheckoutTime);
    private static readonly FileTime Stamp = new(1_800_000_000, 500);
    private static readonly FileTime Before = new(1_800_000_000, 100);
    private static readonly FileTime After = new(1_800_000_100, 0);

    private static ListedEntry F(string path, long size, FileTime? modified = null, FileTime? changed = null, int mode = 0b110_100_100) =>
        new('f', size, mode, modified ?? Uploaded, changed ?? Before, Encoding.UTF8.GetBytes(path), []);

    private static ListedEntry D(string path) => new('d', 4096, 0b111_101_101, Uploaded, Before, Encoding.UTF8.GetBytes(path), []);

    private static ListedEntry L(string path, string target) => new('l', target.Length, 0b111_111_111, Uploaded, Before, Encoding.UTF8.GetBytes(path), Encoding.UTF8.GetBytes(target));

    private static TreeLook.HostEntry HF(long size) => new(FileType.Regular, size, false, null);

    private static TreeLook.HostEntry HD() => new(FileType.Directory, 0, true, null);

    private static readonly Dictionary<string, TreeLook.HostEntry> Checkout = new(StringComparer.Ordinal)
    {
        ["README.md"] = HF(10),
        ["src"] = HD(),
        ["src/a.c"] = HF(20),
        ["docs"] = HD(),
        ["docs/old.txt"] = HF(5),
    };

    [Fact]
    public void An_untouched_tree_fetches_and_deletes_nothing()
    {
        var plan = TreeLook.PlanOf([F("README.md", 10), D("src"), F("src/a.c", 20), D("docs"), F("docs/old.txt", 5)], Stamp, Checkout, Limits);

        Assert.Empty(plan.Fetch);
        Assert.Empty(plan.Delete);
        Assert.Null(plan.OverLimit);
    }

    [Fact]
    public void An_edit_of_the_same_size_and_time_is_still_seen_by_its_change_time_after_the_stamp()
    {
        var plan = TreeLook.PlanOf([F("README.md", 10, changed: After), D("src"), F("src/a.c", 20), D("docs"), F("docs/old.txt", 5)], Stamp, Checkout, Limits);

        Assert.Equal(["README.md"], plan.Fetch);
    }

    [Fact]
    public void New_changed_and_deleted_paths_are_fetched_and_deleted_and_a_new_folder_comes_whole()
    {
        var plan = TreeLook.PlanOf(
            [F("README.md", 11, modified: After), D("src"), F("src/a.c", 20), D("src/new"), F("src/new/x.c", 3), F("src/new/y.c", 3), L("link", "README.md")],
            Stamp, Checkout, Limits);

        Assert.Equal(["README.md", "link", "src/new"], plan.Fetch);
        Assert.Equal(["docs"], plan.Delete);
    }

    [Fact]
    public void A_file_over_max_file_bytes_is_reported_and_never_fetched_not_even_inside_a_new_folder()
    {
        var plan = TreeLook.PlanOf(
            [F("README.md", 10), D("src"), F("src/a.c", 40_000_000_000), D("docs"), F("docs/old.txt", 5), D("out"), F("out/big.bin", 40_000_000_000), F("out/small.txt", 2)],
            Stamp, Checkout, Limits);

        Assert.Equal(["out/small.txt"], plan.Fetch);
        Assert.Equal(["src/a.c"], plan.Delete);
        Assert.Equal(["out/big.bin", "src/a.c"], plan.Findings.Where(f => f.Kind == TreeFindingKind.FileTooLarge).Select(f => f.Path).Order(StringComparer.Ordinal));
        Assert.Contains("over max_file_bytes (10000)", plan.Findings[0].Detail, StringComparison.Ordinal);
        Assert.Null(plan.OverLimit);
    }

    [Fact]
    public void A_crowded_folder_is_fetched_whole_unless_something_under_it_is_left_out()
    {
        var many = Enumerable.Range(0, 70).Select(i => F($"src/n{i:D2}.c", 1)).ToList();
        var crowded = TreeLook.PlanOf([F("README.md", 10), D("src"), F("src/a.c", 20), D("docs"), F("docs/old.txt", 5), .. many], Stamp, Checkout, Limits with { MaxFiles = 1000 });
        var blocked = TreeLook.PlanOf([F("README.md", 10), D("src"), F("src/a.c", 20), D("docs"), F("docs/old.txt", 5), F("src/big", 20_000), .. many], Stamp, Checkout, Limits with { MaxFiles = 1000 });

        Assert.Equal(["src"], crowded.Fetch);
        Assert.Equal(70, blocked.Fetch.Count);
    }

    [Fact]
    public void A_tree_over_max_files_or_max_tree_bytes_is_over_its_limit_before_anything_is_read()
    {
        var files = TreeLook.PlanOf(Enumerable.Range(0, 101).Select(i => F($"f{i}", 1)).ToList(), Stamp, Checkout, Limits);
        var bytes = TreeLook.PlanOf(Enumerable.Range(0, 101).Select(i => F($"f{i}", 9_999)).ToList(), Stamp, Checkout, Limits with { MaxFiles = 1000 });

        Assert.Equal("max_files (100)", files.OverLimit);
        Assert.Equal("max_tree_bytes (1000000)", bytes.OverLimit);
    }

    [Fact]
    public void Names_that_are_not_utf8_special_files_and_a_file_turned_into_a_folder_are_handled_without_writing_through()
    {
        var bad = new ListedEntry('f', 1, 0b110_100_100, Uploaded, After, [(byte)'s', (byte)'r', (byte)'c', (byte)'/', 0xff, 0xfe], []);
        var fifo = new ListedEntry('p', 0, 0b110_100_100, Uploaded, After, Encoding.UTF8.GetBytes("pipe"), []);

        var plan = TreeLook.PlanOf([D("README.md"), F("README.md/inner", 1), D("src"), F("src/a.c", 20), bad, fifo, D("docs"), F("docs/old.txt", 5)], Stamp, Checkout, Limits);

        Assert.Equal(["README.md"], plan.Delete);
        Assert.Equal(["README.md"], plan.Fetch);
        Assert.Contains(plan.Findings, f => f.Kind == TreeFindingKind.UnsafeName && f.Path == "src/\\xff\\xfe");
        Assert.Contains(plan.Findings, f => f.Kind == TreeFindingKind.SpecialFile && f.Path == "pipe");
    }

    [Fact]
    public void The_listing_is_parsed_with_names_holding_spaces_and_newlines_and_the_stamp_found()
    {
        var listing = Encoding.UTF8.GetBytes(
            "d 4096 755 946684800.0000000000 1800000000.1000000000 /workspace\0\0" +
            "f 5 644 946684800.0000000000 1800000000.2000000000 /workspace/a b\nc\0\0" +
            "l 9 777 946684800.0000000000 1800000000.2000000000 /workspace/ln\0README.md\0" +
            "f 60 444 1800000001.0000000000 1800000001.5000000000 /codex-home/.sandbox-runner-stamp\0\0");

        var (entries, stamp) = TreeListing.Parse(listing, "/workspace", "/codex-home/.sandbox-runner-stamp")!.Value;

        Assert.Equal(2, entries.Count);
        Assert.Equal("a b\nc", Encoding.UTF8.GetString(entries[0].Path));
        Assert.Equal(new FileTime(1_800_000_000, 200_000_000), entries[0].Changed);
        Assert.Equal("README.md", Encoding.UTF8.GetString(entries[1].LinkTarget));
        Assert.Equal(new FileTime(1_800_000_001, 500_000_000), stamp);
    }

    [Fact]
    public void Parsing_stops_one_entry_past_max_files_so_a_huge_listing_is_never_held_whole()
    {
        var text = new StringBuilder("f 60 444 1800000001.0 1800000001.5 /codex-home/.sandbox-runner-stamp\0\0");
        for (var i = 0; i < 1000; i++)
        {
            text.Append($"f 1 644 946684800.0 1800000000.0 /workspace/f{i}\0\0");
        }

        var (entries, stamp) = TreeListing.Parse(Encoding.UTF8.GetBytes(text.ToString()), "/workspace", "/codex-home/.sandbox-runner-stamp", maxEntries: 10)!.Value;

        Assert.Equal(11, entries.Count);
        Assert.NotNull(stamp);
        Assert.Equal("max_files (10)", TreeLook.PlanOf(entries, stamp, new Dictionary<string, TreeLook.HostEntry>(), Limits with { MaxFiles = 10 }).OverLimit);
    }

    [Theory]
    [InlineData("f 5 644 946684800.0 1.0 /workspace/a")]
    [InlineData("f x 644 946684800.0 1.0 /workspace/a\0\0")]
    [InlineData("f 5 999 946684800.0 1.0 /workspace/a\0\0")]
    [InlineData("f 5 644 9466e4800.0 1.0 /workspace/a\0\0")]
    [InlineData("f 5 644 946684800.0\0\0")]
    public void A_malformed_listing_is_not_used(string text)
    {
        Assert.Null(TreeListing.Parse(Encoding.UTF8.GetBytes(text), "/workspace", "/codex-home/.sandbox-runner-stamp"));
    }
}
