using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>
/// The look's listing and plan attacked as a hostile agent would (issue 26 red team): the agent names every entry and can
/// replace the runner's stamp, so neither a name nor the stamp may make the plan fetch what a whole copy would judge, or
/// skip a change the agent did not hide itself.
/// </summary>
public sealed class TreeLookRedTeamTests
{
    private const string Stamp = "/codex-home/.sandbox-runner-stamp";
    private static readonly TaskLimits Limits = new(MaxTreeBytes: 1_000_000, MaxFiles: 100, MaxFileBytes: 10_000, MaxPatchBytes: 1_000_000, MaxLogBytes: 1_000_000);
    private static readonly FileTime Uploaded = FileTime.Of(TreeArchiveWriter.CheckoutTime);

    private static readonly Dictionary<string, TreeLook.HostEntry> Checkout = new(StringComparer.Ordinal)
    {
        ["README.md"] = new(FileType.Regular, 10, false, null),
    };

    [Fact]
    public void A_name_holding_a_forged_record_stays_one_entry_and_forges_neither_an_entry_nor_the_stamp()
    {
        var forged = "x\0\0f 1 644 946684800.0 1.0 /codex-home/.sandbox-runner-stamp";
        var listing = Encoding.UTF8.GetBytes(
            $"f 1 644 946684800.0 1800000000.0 /workspace/a\nf 1 644 946684800.0 1.0 {Stamp}\0\0" +
            $"f 1 644 946684800.0 1800000005.0 {Stamp}\0\0");

        var (entries, stamp) = TreeListing.Parse(listing, "/workspace", Stamp)!.Value;

        Assert.Equal($"a\nf 1 644 946684800.0 1.0 {Stamp}", Encoding.UTF8.GetString(Assert.Single(entries).Path));
        Assert.Equal(new FileTime(1_800_000_005, 0), stamp);

        // A NUL cannot be in a name; a listing that claims one is cut short and not used.
        Assert.Null(TreeListing.Parse(Encoding.UTF8.GetBytes($"f 1 644 946684800.0 1.0 /workspace/{forged}"), "/workspace", Stamp));
    }

    [Fact]
    public void An_entry_outside_the_workspace_is_never_planned_even_when_it_shares_its_prefix()
    {
        var listing = Encoding.UTF8.GetBytes(
            "f 1 644 1.0 1800000000.0 /workspace-evil/x\0\0" +
            "f 1 644 1.0 1800000000.0 /workspace\0\0" +
            "d 1 755 1.0 1800000000.0 /codex-home/other\0\0");

        var (entries, stamp) = TreeListing.Parse(listing, "/workspace", Stamp)!.Value;

        Assert.Empty(entries);
        Assert.Null(stamp);
    }

    [Fact]
    public void Without_a_stamp_a_file_of_another_size_time_or_executable_bit_is_still_fetched()
    {
        ListedEntry F(long size, FileTime modified, int mode) => new('f', size, mode, modified, new FileTime(1, 0), "README.md"u8.ToArray(), []);

        Assert.Equal(["README.md"], TreeLook.PlanOf([F(11, Uploaded, 0b110_100_100)], null, Checkout, Limits).Fetch);
        Assert.Equal(["README.md"], TreeLook.PlanOf([F(10, new FileTime(1_800_000_000, 0), 0b110_100_100)], null, Checkout, Limits).Fetch);
        Assert.Equal(["README.md"], TreeLook.PlanOf([F(10, Uploaded, 0b111_101_101)], null, Checkout, Limits).Fetch);
    }

    [Fact]
    public void Dot_segments_and_empty_segments_in_a_listed_name_are_never_fetched()
    {
        ListedEntry F(string path) => new('f', 1, 0b110_100_100, Uploaded, new FileTime(1_800_000_100, 0), Encoding.UTF8.GetBytes(path), []);

        var plan = TreeLook.PlanOf([F("../escape"), F("a/./b"), F("a//b"), F("README.md")], new FileTime(1_800_000_000, 0), Checkout, Limits);

        Assert.Equal(["README.md"], plan.Fetch);
        Assert.Equal(3, plan.Findings.Count(f => f.Kind == TreeFindingKind.UnsafeName));
    }

    [Fact]
    public void Devices_sockets_and_fifos_are_findings_and_a_tracked_file_replaced_by_one_is_deleted_never_fetched()
    {
        ListedEntry S(char kind, string path) => new(kind, 0, 0b110_100_100, Uploaded, new FileTime(1_800_000_100, 0), Encoding.UTF8.GetBytes(path), []);

        var plan = TreeLook.PlanOf([S('c', "README.md"), S('b', "blk"), S('s', "sock"), S('p', "fifo")], new FileTime(1_800_000_000, 0), Checkout, Limits);

        Assert.Empty(plan.Fetch);
        Assert.Equal(["README.md"], plan.Delete);
        Assert.Equal(4, plan.Findings.Count(f => f.Kind == TreeFindingKind.SpecialFile));
    }
}
