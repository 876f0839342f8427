/* A stand-in for bootstrap-table, which Data Docs load from a CDN: the tables GX fills from
   JavaScript (the index of validations) are written as plain Bootstrap tables, each row
   linking to its page. Options other than columns and data (sorting, filters) are ignored;
   method calls such as $(table).bootstrapTable('resetSearch') do nothing. */
(function ($) {
  "use strict";
  $.fn.bootstrapTable = function (options) {
    if (typeof options !== "object" || options === null) {
      return this;
    }
    var columns = options.columns || [];
    return this.each(function () {
      var table = $(this).addClass("table table-sm table-hover");
      var head = $("<tr>");
      columns.forEach(function (column) {
        head.append($("<th>").text(column.title || ""));
      });
      var body = $("<tbody>");
      (options.data || []).forEach(function (row) {
        var line = $("<tr>");
        columns.forEach(function (column) {
          var value = row[column.field];
          line.append($("<td>").html(value === undefined || value === null ? "" : String(value)));
        });
        if (row._table_row_link_path) {
          line.css("cursor", "pointer").on("click", function (event) {
            if (!$(event.target).closest("a").length) {
              window.location.href = row._table_row_link_path;
            }
          });
        }
        body.append(line);
      });
      table.empty().append($("<thead>").append(head)).append(body);
    });
  };
})(jQuery);
