using ICSharpCode.SharpZipLib.Tar;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Tests.Sandbox;

public sealed class TreeArchiveTests : IDisposable
{
    private readonly string _dest = Directory.CreateTempSubdirectory("sr-extract-").FullName;
    private static readonly ExtractionBounds Bounds = new(1024 * 1024, 100, 64 * 1024, 16, 1000);

    public void Dispose() => Directory.Delete(_dest, recursive: true);

    private static MemoryStream Tar(params (string Name, byte Type, string Content, string? Link)[] entries)
    {
        var stream = new MemoryStream();
        using (var tar = new TarOutputStream(stream, System.Text.Encoding.UTF8) { IsStreamOwner = false })
        {
            foreach (var (name, type, content, link) in entries)
            {
                var entry = TarEntry.CreateTarEntry(name);
                entry.TarHeader.TypeFlag = type;
                entry.TarHeader.Mode = 0b110_100_100;
                entry.Size = type == TarHeader.LF_NORMAL ? content.Length : 0;
                if (link is not null)
                {
                    entry.TarHeader.LinkName = link;
                }

                tar.PutNextEntry(entry);
                if (type == TarHeader.LF_NORMAL)
                {
                    tar.Write(System.Text.Encoding.UTF8.GetBytes(content));
                }

                tar.CloseEntry();
            }
        }

        stream.Position = 0;
        return stream;
    }

    private Task<ExtractionReport> Extract(MemoryStream tar, ExtractionBounds? bounds = null) =>
        TreeArchive.ExtractAsync(tar, _dest, "workspace", bounds ?? Bounds, CancellationToken.None);

    [Fact]
    public async Task Nothing_is_written_through_a_link_the_archive_made()
    {
        var outside = Directory.CreateTempSubdirectory("sr-outside-").FullName;
        try
        {
            var report = await Extract(Tar(("workspace/a", TarHeader.LF_SYMLINK, "", outside), ("workspace/a/x", TarHeader.LF_NORMAL, "pwned", null)));

            Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
            Assert.Contains(report.Skipped, s => s.Reason == SkipReason.UnsafeName && s.Path == "a/x");
            Assert.Equal(outside, new FileInfo(Path.Combine(_dest, "a")).LinkTarget);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task Parent_segments_and_entries_outside_the_folder_are_refused()
    {
        var report = await Extract(Tar(("workspace/../escape", TarHeader.LF_NORMAL, "x", null), ("other/file", TarHeader.LF_NORMAL, "x", null)));

        Assert.Equal(2, report.Skipped.Count(s => s.Reason == SkipReason.UnsafeName));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_dest)!, "escape")));
    }

    [Fact]
    public async Task Fifos_and_devices_are_not_created_and_hard_links_out_of_the_tree_are_refused()
    {
        var report = await Extract(Tar(
            ("workspace/f", TarHeader.LF_FIFO, "", null),
            ("workspace/d", TarHeader.LF_CHR, "", null),
            ("workspace/h", TarHeader.LF_LINK, "", "/etc/passwd"),
            ("workspace/ok", TarHeader.LF_NORMAL, "ok", null),
            ("workspace/copy", TarHeader.LF_LINK, "", "workspace/ok")));

        Assert.Equal(["d", "f"], report.Skipped.Where(s => s.Reason == SkipReason.SpecialFile).Select(s => s.Path).Order());
        Assert.Contains(report.Skipped, s => s.Reason == SkipReason.UnsafeName && s.Path == "h");
        Assert.Equal("ok", File.ReadAllText(Path.Combine(_dest, "copy")));
        Assert.Equal(["copy", "ok"], Directory.EnumerateFileSystemEntries(_dest).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Past_the_byte_or_entry_bound_the_extraction_stops_and_names_the_limit()
    {
        var bytes = await Extract(Tar(("workspace/a", TarHeader.LF_NORMAL, new string('x', 600), null), ("workspace/b", TarHeader.LF_NORMAL, new string('x', 600), null)),
            Bounds with { MaxBytes = 1000 });

        Assert.Equal("max_tree_bytes (1000)", bytes.OverLimit);
    }
}
