using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Sandbox;

/// <summary>A container's output turned into whole lines, with a bounded tail of each stream.</summary>
public sealed class OutputCaptureTests
{
    private static void Write(OutputCapture capture, LogStream stream, string text) =>
        capture.Write(stream, Encoding.UTF8.GetBytes(text));

    private static void WriteByteByByte(OutputCapture capture, LogStream stream, string text)
    {
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            capture.Write(stream, [b]);
        }
    }

    private static List<string> StdoutLines(OutputCapture capture)
    {
        var lines = new List<string>();
        capture.StdoutLine += lines.Add;
        return lines;
    }

    private static List<string> StderrLines(OutputCapture capture)
    {
        var lines = new List<string>();
        capture.StderrLine += lines.Add;
        return lines;
    }

    [Fact]
    public void Lines_fed_byte_by_byte_are_raised_whole_and_in_order()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        WriteByteByByte(capture, LogStream.Stdout, "{\"type\":\"turn.started\"}\nsecond line\nthird\n");

        Assert.Equal(["{\"type\":\"turn.started\"}", "second line", "third"], lines);
    }

    [Fact]
    public void Several_lines_in_one_chunk_are_raised_in_order()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        Write(capture, LogStream.Stdout, "a\nb\nc\n");

        Assert.Equal(["a", "b", "c"], lines);
    }

    [Theory]
    [InlineData("hel|lo\nwor|ld\n")]
    [InlineData("hello|\n|world|\n")]
    [InlineData("hello\n||world\n")]
    [InlineData("h|e|l|l|o|\n|w|o|r|l|d|\n")]
    public void Line_split_across_chunks_is_joined(string chunksSeparatedByBars)
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        foreach (var chunk in chunksSeparatedByBars.Split('|'))
        {
            Write(capture, LogStream.Stdout, chunk);
        }

        Assert.Equal(["hello", "world"], lines);
    }

    [Fact]
    public void Empty_lines_are_raised_as_empty()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        Write(capture, LogStream.Stdout, "a\n\nb\n");

        Assert.Equal(["a", "", "b"], lines);
    }

    [Fact]
    public void Crlf_line_endings_are_trimmed()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        Write(capture, LogStream.Stdout, "a\r\nb\r");
        Write(capture, LogStream.Stdout, "\nc\r\n");

        Assert.Equal(["a", "b", "c"], lines);
        Assert.Equal("a\nb\nc\n", capture.Stdout);
    }

    [Fact]
    public void Carriage_return_inside_a_line_is_kept()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        Write(capture, LogStream.Stdout, "50%\r100%\n");

        Assert.Equal(["50%\r100%"], lines);
    }

    [Fact]
    public void Partial_line_is_not_raised_before_complete()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        Write(capture, LogStream.Stdout, "done\nno newline yet");

        Assert.Equal(["done"], lines);
        Assert.Equal("done\n", capture.Stdout);
    }

    [Fact]
    public void Complete_flushes_the_last_partial_line()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        Write(capture, LogStream.Stdout, "done\nno newline");

        capture.Complete();

        Assert.Equal(["done", "no newline"], lines);
        Assert.Equal("done\nno newline\n", capture.Stdout);
    }

    [Fact]
    public void Complete_flushes_a_partial_stderr_line_too()
    {
        var capture = new OutputCapture();
        var lines = StderrLines(capture);
        Write(capture, LogStream.Stderr, "panic: oops");

        capture.Complete();

        Assert.Equal(["panic: oops"], lines);
    }

    [Fact]
    public void Complete_after_a_final_newline_raises_nothing_more()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        Write(capture, LogStream.Stdout, "a\n");

        capture.Complete();
        capture.Complete();

        Assert.Equal(["a"], lines);
    }

    [Fact]
    public void Complete_twice_does_not_repeat_the_partial_line()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        Write(capture, LogStream.Stdout, "tail");

        capture.Complete();
        capture.Complete();

        Assert.Equal(["tail"], lines);
    }

    [Fact]
    public void Nothing_written_gives_empty_output()
    {
        var capture = new OutputCapture();

        capture.Complete();

        Assert.Equal("", capture.Stdout);
        Assert.Equal("", capture.Stderr);
        Assert.Equal("", capture.CombinedTail);
        Assert.False(capture.Truncated);
    }

    [Fact]
    public void Stderr_lines_go_to_stderr_only()
    {
        var capture = new OutputCapture();
        var stdout = StdoutLines(capture);
        var stderr = StderrLines(capture);

        Write(capture, LogStream.Stderr, "warning: a\nwarning: b\n");

        Assert.Equal(["warning: a", "warning: b"], stderr);
        Assert.Empty(stdout);
        Assert.Equal("warning: a\nwarning: b\n", capture.Stderr);
        Assert.Equal("", capture.Stdout);
    }

    [Fact]
    public void Partial_lines_of_the_two_streams_do_not_mix()
    {
        var capture = new OutputCapture();
        var stdout = StdoutLines(capture);
        var stderr = StderrLines(capture);

        Write(capture, LogStream.Stdout, "hel");
        Write(capture, LogStream.Stderr, "oo");
        Write(capture, LogStream.Stdout, "lo\n");
        Write(capture, LogStream.Stderr, "ps\n");

        Assert.Equal(["hello"], stdout);
        Assert.Equal(["oops"], stderr);
    }

    [Fact]
    public void Stdout_keeps_whole_lines_each_ending_in_a_newline()
    {
        var capture = new OutputCapture();

        Write(capture, LogStream.Stdout, "{\"a\":1}\n{\"b\":2}\n");

        Assert.Equal("{\"a\":1}\n{\"b\":2}\n", capture.Stdout);
        Assert.False(capture.Truncated);
    }

    [Fact]
    public void Tail_keeps_only_the_newest_whole_lines_within_the_byte_budget()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);
        var written = Enumerable.Range(0, 30).Select(i => $"line-{i:D2}").ToList(); // 8 bytes each with its newline

        Write(capture, LogStream.Stdout, string.Concat(written.Select(l => l + "\n")));

        Assert.Equal(string.Concat(written.TakeLast(12).Select(l => l + "\n")), capture.Stdout);
    }

    [Fact]
    public void Tail_that_dropped_lines_is_truncated()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, string.Concat(Enumerable.Repeat("012345678\n", 10)));
        Assert.False(capture.Truncated);

        Write(capture, LogStream.Stdout, "x\n");
        Assert.True(capture.Truncated);
    }

    [Fact]
    public void Tail_exactly_at_the_budget_is_not_truncated()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, string.Concat(Enumerable.Repeat("012345678\n", 10)));

        Assert.Equal(100, Encoding.UTF8.GetByteCount(capture.Stdout));
        Assert.False(capture.Truncated);
    }

    [Fact]
    public void Tail_budget_is_counted_in_bytes_not_characters()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, string.Concat(Enumerable.Repeat("ééééé\n", 12))); // 11 bytes each

        Assert.Equal(string.Concat(Enumerable.Repeat("ééééé\n", 9)), capture.Stdout);
        Assert.True(capture.Truncated);
    }

    [Fact]
    public void Tail_always_starts_at_a_line_boundary()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);
        var written = Enumerable.Range(0, 200).Select(i => $"{{\"n\":{i},\"pad\":\"{new string('p', i % 17)}\"}}").ToList();

        foreach (var line in written)
        {
            WriteByteByByte(capture, LogStream.Stdout, line + "\n");
        }

        var kept = capture.Stdout.Split('\n')[..^1];
        Assert.NotEmpty(kept);
        Assert.Equal(written.TakeLast(kept.Length), kept);
        Assert.True(Encoding.UTF8.GetByteCount(capture.Stdout) <= 100);
    }

    [Fact]
    public void Line_bigger_than_the_tail_budget_is_still_raised()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);
        var lines = StdoutLines(capture);
        var big = new string('x', 150);

        Write(capture, LogStream.Stdout, big + "\n");

        Assert.Equal([big], lines);
    }

    [Fact]
    public void Line_bigger_than_the_tail_budget_is_not_kept_and_truncates()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, "before\n" + new string('x', 150) + "\nafter\n");

        Assert.Equal("before\nafter\n", capture.Stdout);
        Assert.True(capture.Truncated);
    }

    [Fact]
    public void Line_that_exactly_fills_the_budget_with_its_newline_is_kept()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);
        var line = new string('x', 99);

        Write(capture, LogStream.Stdout, line + "\n");

        Assert.Equal(line + "\n", capture.Stdout);
        Assert.False(capture.Truncated);
    }

    [Fact]
    public void Line_one_byte_over_the_budget_is_not_kept()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, new string('x', 100) + "\n");

        Assert.Equal("", capture.Stdout);
        Assert.True(capture.Truncated);
    }

    [Fact]
    public void Stderr_overflow_truncates_too()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stderr, string.Concat(Enumerable.Repeat("warning: disk is slow\n", 10)));

        Assert.True(capture.Truncated);
        Assert.True(Encoding.UTF8.GetByteCount(capture.Stderr) <= 100);
        Assert.EndsWith("warning: disk is slow\n", capture.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_stream_has_its_own_budget()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, new string('o', 80) + "\n");
        Write(capture, LogStream.Stderr, new string('e', 80) + "\n");

        Assert.Equal(new string('o', 80) + "\n", capture.Stdout);
        Assert.Equal(new string('e', 80) + "\n", capture.Stderr);
        Assert.False(capture.Truncated);
    }

    [Fact]
    public void Combined_tail_is_at_most_the_given_chars_and_ends_with_the_latest_output()
    {
        var capture = new OutputCapture(combinedTailChars: 20);

        for (var i = 0; i < 100; i++)
        {
            Write(capture, i % 2 == 0 ? LogStream.Stdout : LogStream.Stderr, $"message number {i}\n");
            Assert.True(capture.CombinedTail.Length <= 20, capture.CombinedTail);
        }

        Assert.Equal(20, capture.CombinedTail.Length);
        Assert.EndsWith("message number 99\n", capture.CombinedTail, StringComparison.Ordinal);
    }

    [Fact]
    public void Combined_tail_interleaves_the_streams_as_lines_completed()
    {
        var capture = new OutputCapture();

        Write(capture, LogStream.Stdout, "out 1\n");
        Write(capture, LogStream.Stderr, "err 1\n");
        Write(capture, LogStream.Stdout, "out 2\n");

        Assert.Equal("out 1\nerr 1\nout 2\n", capture.CombinedTail);
    }

    [Fact]
    public void Combined_tail_under_the_limit_is_everything()
    {
        var capture = new OutputCapture(combinedTailChars: 500);

        Write(capture, LogStream.Stdout, "short\n");

        Assert.Equal("short\n", capture.CombinedTail);
    }

    [Theory]
    [InlineData("héllo wörld")]
    [InlineData("€ 1,00")]
    [InlineData("𝄞 clef")]
    [InlineData("日本語のテキスト")]
    [InlineData("{\"text\":\"✅ done 🎉\"}")]
    public void Multi_byte_characters_split_across_chunks_decode_correctly(string text)
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        WriteByteByByte(capture, LogStream.Stdout, text + "\n");

        Assert.Equal([text], lines);
        Assert.Equal(text + "\n", capture.Stdout);
    }

    [Fact]
    public void Multi_byte_character_split_between_two_chunks_decodes_correctly()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        var bytes = Encoding.UTF8.GetBytes("a€b\n"); // € is E2 82 AC

        capture.Write(LogStream.Stdout, bytes.AsSpan(0, 2));
        capture.Write(LogStream.Stdout, bytes.AsSpan(2));

        Assert.Equal(["a€b"], lines);
    }

    [Fact]
    public void Invalid_utf8_becomes_replacement_characters()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);

        capture.Write(LogStream.Stdout, [(byte)'a', 0xFF, (byte)'b', (byte)'\n']);

        Assert.Equal(["a\uFFFDb"], lines);
    }

    [Fact]
    public void Bytes_received_are_counted_per_stream()
    {
        var capture = new OutputCapture(tailBytesPerStream: 100);

        Write(capture, LogStream.Stdout, new string('x', 500) + "\n");
        Write(capture, LogStream.Stdout, "é");
        Write(capture, LogStream.Stderr, "err\n");

        Assert.Equal(503, capture.StdoutBytes);
        Assert.Equal(4, capture.StderrBytes);
    }

    [Fact]
    public void Line_over_32_MiB_is_counted_and_dropped_and_the_next_line_still_raised()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        var huge = new byte[(32 * 1024 * 1024) + 1];
        Array.Fill(huge, (byte)'x');

        capture.Write(LogStream.Stdout, huge);
        Write(capture, LogStream.Stdout, "\nnext\n");

        Assert.Equal(["next"], lines);
        Assert.Equal(1, capture.OversizedLines);
        Assert.Equal("next\n", capture.Stdout);
    }

    [Fact]
    public void Line_over_32_MiB_without_a_newline_is_counted_on_complete()
    {
        var capture = new OutputCapture();
        var lines = StdoutLines(capture);
        var half = new byte[(16 * 1024 * 1024) + 1];
        Array.Fill(half, (byte)'x');

        capture.Write(LogStream.Stdout, half);
        capture.Write(LogStream.Stdout, half);
        capture.Complete();

        Assert.Empty(lines);
        Assert.Equal(1, capture.OversizedLines);
    }
}
